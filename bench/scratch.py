"""A run's own PostgreSQL database and Redis db on the machine's shared services (tests and benches).

Test runs and benchmarks share one PostgreSQL and one Redis, often at the same time. Each run gets:
- a database named after the run, created by `open()` and dropped by `close()`;
- a Redis db index (1-15) that no other run holds. `reserve()` picks it with a lock file on this
  machine, so no service is needed yet and the URL can go into the environment before `sie`
  parses its settings (once, at import). `open()` then claims it on the server too, under
  `sie:test-run:<index>`, where runs that take no lock file see it.

`sie` is never imported here: the caller sets the environment first.
"""

from __future__ import annotations

import fcntl
import hashlib
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
import redis

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_BASE_URL = "redis://127.0.0.1:6379"
REDIS_DB_INDEXES = range(1, 16)  # db 0 holds the claims
CLAIM_SECONDS = 24 * 3600
CONNECT_TIMEOUT_SECONDS = 3
# Claims made by lock-file holders on this host start with this; see `_claim_redis_db`.
LOCKED_CLAIM_PREFIX = f"locked@{socket.gethostname()}:"


class ServicesUnavailable(RuntimeError):
    """PostgreSQL or Redis cannot be reached, or holds no room for this run."""


@dataclass
class ScratchServices:
    pg_admin_url: str
    redis_base_url: str
    database: str
    redis_db: int
    run_id: str
    _lock: IO[str]

    @classmethod
    def reserve(cls, *, prefix: str, pg_admin_url: str, redis_base_url: str) -> ScratchServices:
        """Names for this run, and a Redis db index locked on this machine; touches no service."""
        run_id = uuid.uuid4().hex[:10]
        redis_db, lock = _lock_redis_db(redis_base_url)
        return cls(pg_admin_url, redis_base_url, f"{prefix}_{run_id}", redis_db, run_id, lock)

    @property
    def database_url(self) -> str:
        return self._url_of(self.database)

    @property
    def redis_url(self) -> str:
        return f"{self.redis_base_url}/{self.redis_db}"

    def environment(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}

    def open(self) -> None:
        """Claim the Redis db (emptied) and create the database. Raises ServicesUnavailable."""
        self._claim_redis_db()
        try:
            self._admin_execute(f'CREATE DATABASE "{self.database}"')
        except psycopg.OperationalError as exc:
            self._release_redis_db()
            raise ServicesUnavailable(f"PostgreSQL is not reachable at {self.pg_admin_url} ({exc})") from None

    def close(self) -> None:
        """Drop the database, empty and release the Redis db."""
        self._admin_execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self._release_redis_db()
        self._lock.close()

    @contextmanager
    def extra_database(self, prefix: str) -> Iterator[str]:
        """The URL of another, empty database beside the run's, dropped afterwards."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self._admin_execute(f'CREATE DATABASE "{name}"')
        try:
            yield self._url_of(name)
        finally:
            self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _url_of(self, database: str) -> str:
        return self.pg_admin_url.rsplit("/", 1)[0] + f"/{database}"

    def _admin_execute(self, statement: str) -> None:
        with psycopg.connect(
            self.pg_admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # names built here, not from input

    def _claim_redis_db(self) -> None:
        claims = self._claims()
        key, token = self._claim_key(), LOCKED_CLAIM_PREFIX + self.run_id
        try:
            if not claims.set(key, token, nx=True, ex=CLAIM_SECONDS):
                holder = claims.get(key) or ""
                # Runs on this host hold the lock file before they claim: a claim by one of them
                # that is not ours outlived its run (killed before it could release it).
                if not holder.startswith(LOCKED_CLAIM_PREFIX):
                    raise ServicesUnavailable(
                        f"Redis db {self.redis_db} is held by a run without a lock file ({key} = {holder})"
                    )
                claims.set(key, token, ex=CLAIM_SECONDS)
            redis.Redis.from_url(self.redis_url).flushdb()
        except redis.RedisError as exc:
            raise ServicesUnavailable(f"Redis is not reachable at {self.redis_base_url} ({exc})") from None

    def _release_redis_db(self) -> None:
        redis.Redis.from_url(self.redis_url).flushdb()
        self._claims().delete(self._claim_key())

    def _claims(self) -> redis.Redis:
        return redis.Redis.from_url(
            f"{self.redis_base_url}/0", socket_timeout=CONNECT_TIMEOUT_SECONDS, decode_responses=True
        )

    def _claim_key(self) -> str:
        return f"sie:test-run:{self.redis_db}"


def _lock_redis_db(redis_base_url: str) -> tuple[int, IO[str]]:
    """The first Redis db index whose lock file no other process on this machine holds, and that file.

    The lock lasts as long as the file stays open, and ends with the process however it ends.
    """
    server = hashlib.sha256(redis_base_url.encode()).hexdigest()[:8]
    for index in REDIS_DB_INDEXES:
        lock = (Path(tempfile.gettempdir()) / f"sie-redis-{server}-db{index}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        return index, lock
    raise ServicesUnavailable(f"no free Redis db index (1-15) for this run on {redis_base_url}")
