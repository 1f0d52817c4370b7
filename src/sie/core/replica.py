"""The read replica (`DATABASE_READ_URL`): reads that may trail the writes by the replica's lag.

`read_session_scope` serves search, insights and lists from a streaming replica while it answers,
and from the primary otherwise (docs/reliability.md). Writes, and reads that must see a write just
made (a job's status right after submit, the API key, idempotency), use `sie.core.db` directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Literal

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from sie.core.config import settings
from sie.core.db import database_errors, driver_error, postgres_engine, request_session

# A replica that failed gets no reads for this long: they go straight to the primary instead of each
# waiting on a connection attempt. Then one read tries it again.
REPLICA_RETRY_SECONDS = 5.0
# `/health` calls the replica `lagging` beyond this (it still serves reads).
REPLICA_LAGGING_SECONDS = 5.0
# libpq's least: an unreachable replica host delays a read (or /health) this long once per retry period.
REPLICA_CONNECT_TIMEOUT_SECONDS = 2
# Measured on the replica: 0 while it has replayed all it received (an idle primary sends nothing, and
# the time since its last commit is no lag), else the age of the last transaction it replayed.
REPLICA_LAG = text(
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
)


@cache
def _read_engine() -> Engine | None:
    """The replica's engine, or None without DATABASE_READ_URL. Its connections are pinged at every
    checkout: a replica restarted or gone is found before a read starts, which then goes to the primary."""
    url = settings.sqlalchemy_read_url
    if url is None:
        return None
    return postgres_engine(url, connect_timeout=REPLICA_CONNECT_TIMEOUT_SECONDS, pool_pre_ping=True)


@cache
def _read_session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=_read_engine(), expire_on_commit=False)


class _ReplicaGate:
    """Whether reads try the replica. After a failure none does for REPLICA_RETRY_SECONDS; then the
    first read tries it again, while the others keep to the primary until it has answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed_until = 0.0
        self.error: str | None = None

    def closed(self) -> bool:
        return time.monotonic() < self._closed_until

    def open(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._closed_until:
                return False
            if self.error is not None:
                self._closed_until = now + REPLICA_RETRY_SECONDS  # this caller probes it
            return True

    def failed(self, exc: DBAPIError) -> None:
        with self._lock:
            self._closed_until = time.monotonic() + REPLICA_RETRY_SECONDS
            self.error = driver_error(exc) or type(exc).__name__

    def answered(self) -> None:
        if self.error is not None:
            with self._lock:
                self._closed_until, self.error = 0.0, None


_replica_gate = _ReplicaGate()


def _replica_session() -> Session | None:
    """A session already connected to the replica; None without one, or while it is down."""
    if _read_engine() is None or not _replica_gate.open():
        return None
    session = _read_session_factory()()
    try:
        session.connection()
    except DBAPIError as exc:
        session.close()
        _replica_gate.failed(exc)
        return None
    _replica_gate.answered()
    return session


@contextmanager
def read_session_scope() -> Iterator[Session]:
    """A session for reads that may trail the latest writes by the replica's lag: on the replica
    while it answers, else on the primary. Never for a read that must see a write just made.

    A replica that cannot be reached when the read starts is skipped (that read goes to the primary);
    one lost during the read fails that read (`ServiceUnavailable`) and is skipped by the next ones.
    """
    replica = _replica_session()
    if replica is None:
        with request_session() as session:
            yield session
        return
    try:
        with database_errors():
            try:
                yield replica
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    _replica_gate.failed(exc)
                raise
    finally:
        replica.close()


@dataclass(frozen=True)
class ReplicaStatus:
    state: Literal["up", "lagging", "down"]
    lag_seconds: float | None
    error: str | None = None


def replica_failing() -> bool:
    """Whether the last read or measurement that tried the replica failed to reach it."""
    return _replica_gate.error is not None


def replica_status() -> ReplicaStatus | None:
    """The replica's state and lag, measured on it now; None without DATABASE_READ_URL. Reaching it
    opens it to reads again at once; failing to closes it. While closed it is not tried: `down`."""
    engine = _read_engine()
    if engine is None:
        return None
    if _replica_gate.closed():
        return ReplicaStatus("down", None, _replica_gate.error)
    try:
        with engine.connect() as connection:
            lag = float(connection.execute(REPLICA_LAG).scalar() or 0.0)
    except DBAPIError as exc:
        _replica_gate.failed(exc)
        return ReplicaStatus("down", None, _replica_gate.error)
    except PoolTimeoutError:
        return ReplicaStatus("down", None, "connection pool exhausted")
    _replica_gate.answered()
    return ReplicaStatus("lagging" if lag > REPLICA_LAGGING_SECONDS else "up", lag)
