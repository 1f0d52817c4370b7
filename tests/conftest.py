"""Test session: the environment every test sees, and the run's own PostgreSQL database and Redis db.

The environment is set here, before any `sie` module is imported, because settings are parsed once.
It names this run's database and Redis db, but nothing is created or claimed yet: the `services`
fixture does that on first use. The conftest of each folder whose tests need PostgreSQL and Redis
uses it (autouse), so `tests/unit` runs with neither service up.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import redis

from bench.scratch import DEFAULT_PG_ADMIN_URL, DEFAULT_REDIS_BASE_URL, ScratchServices, ServicesUnavailable

try:
    SCRATCH = ScratchServices.reserve(
        prefix="sie_test",
        pg_admin_url=os.environ.get("SIE_TEST_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL),
        redis_base_url=os.environ.get("SIE_TEST_REDIS_URL", DEFAULT_REDIS_BASE_URL),
    )
except ServicesUnavailable as exc:
    pytest.exit(str(exc), returncode=3)

os.environ.update(
    {
        "ENVIRONMENT": "development",
        **SCRATCH.environment(),
        "API_SECRET_KEY": secrets.token_urlsafe(32),
        "SEARCH_BACKEND": "database",
        "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        "LOG_LEVEL": "info",
    }
)
os.environ.pop("MEILISEARCH_URL", None)

# Only now, with the environment above in place: `sie` reads its settings once, at import.
from sie.core.db import get_engine, migrate


@pytest.fixture(scope="session")
def services() -> Iterator[ScratchServices]:
    """This run's PostgreSQL database, Alembic-migrated, and its emptied Redis db; gone after the run."""
    try:
        SCRATCH.open()
    except ServicesUnavailable as exc:
        pytest.exit(f"{exc}; start it (see README)", returncode=3)
    try:
        migrate("head")
        yield SCRATCH
    finally:
        get_engine().dispose()
        SCRATCH.close()


@pytest.fixture
def scratch_database(services: ScratchServices) -> Iterator[str]:
    """An empty database of its own, beside the run's: for tests that migrate or write from nothing."""
    with services.extra_database("sie_scratch") as url:
        yield url


@pytest.fixture
def redis_client(services: ScratchServices) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(services.redis_url, decode_responses=True)
    yield client
    client.close()
