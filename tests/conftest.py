"""Test session: its own PostgreSQL database and its own Redis db index, on the machine's real services.

The environment is set here, before any `sie` module is imported, because settings are parsed once.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis

PG_ADMIN_URL = os.environ.get("SIE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("SIE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
RUN_ID = uuid.uuid4().hex[:10]
TEST_DB = f"sie_test_{RUN_ID}"


def _claim_redis_db() -> int:
    """Claim a free Redis db index (1-15) for this run, so concurrent runs never share keys."""
    try:
        admin = redis.Redis.from_url(f"{REDIS_BASE_URL}/0", socket_timeout=3)
        admin.ping()
    except redis.RedisError as exc:
        pytest.exit(
            f"Redis is not reachable at {REDIS_BASE_URL} ({exc}); start it (see README)", returncode=3
        )
    for index in range(1, 16):
        if admin.set(f"sie:test-run:{index}", RUN_ID, nx=True, ex=3 * 3600):
            redis.Redis.from_url(f"{REDIS_BASE_URL}/{index}").flushdb()
            return index
    pytest.exit("no free Redis db index (1-15) for this test run", returncode=3)
    raise AssertionError  # unreachable


def _check_postgres() -> None:
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); start it (see README)", returncode=3
        )


_check_postgres()
REDIS_DB = _claim_redis_db()
TEST_DATABASE_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{TEST_DB}"
TEST_REDIS_URL = f"{REDIS_BASE_URL}/{REDIS_DB}"

os.environ.update(
    {
        "ENVIRONMENT": "development",
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "API_SECRET_KEY": secrets.token_urlsafe(32),
        "SEARCH_BACKEND": "database",
        "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        "LOG_LEVEL": "info",
    }
)
os.environ.pop("MEILISEARCH_URL", None)

with psycopg.connect(PG_ADMIN_URL, autocommit=True) as _conn:
    _conn.execute(f'CREATE DATABASE "{TEST_DB}"')


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from sie.core.db import get_engine

    get_engine().dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
    admin = redis.Redis.from_url(f"{REDIS_BASE_URL}/0")
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    admin.delete(f"sie:test-run:{REDIS_DB}")


@pytest.fixture(scope="session", autouse=True)
def migrated_database() -> str:
    """The Alembic-migrated schema every test runs on."""
    from sie.core.db import migrate

    migrate("head")
    return TEST_DATABASE_URL


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    yield client
    client.close()
