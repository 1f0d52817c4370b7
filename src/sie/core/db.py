"""Engine, sessions and connections. One engine per process, built lazily from `settings`.

PostgreSQL connections are not pinged at every checkout (a round trip each time: three for each
document the API accepted): a connection that sat idle in the pool for `IDLE_PING_SECONDS`
is pinged before use, every one is replaced after `POOL_RECYCLE_SECONDS`, and one that fails with a
disconnect invalidates the pool, so later checkouts reconnect (SQLAlchemy's invalidate-on-
disconnect). `autocommit_read` repeats a read once on a new connection: the API reads the caller's
key first, so a database restart between requests fails none of them.

With `DATABASE_READ_URL`, a second engine reaches a streaming replica: `read_session_scope` serves
reads that may trail the writes by the replica's lag (search, insights, lists) from it while it
answers, and from the primary otherwise (docs/reliability.md). With `DATABASE_POOL_MODE=transaction`
(PgBouncer in transaction mode) psycopg never prepares a statement on the server: the next
transaction may run on another server connection, which does not know it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from sie.core.config import settings
from sie.core.errors import ServiceUnavailable, UnstorableValue

REPO_ROOT = Path(__file__).resolve().parents[3]
IDLE_PING_SECONDS = 30.0
POOL_RECYCLE_SECONDS = 1800
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
T = TypeVar("T")


@cache
def get_engine() -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.sie_data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            # WAL lets the API read while the in-process worker writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = postgres_engine(url)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


def postgres_engine(url: str, *, connect_timeout: int = 5, **options: Any) -> Engine:
    """An engine on `url` with SIE's pool rules and connection settings (DATABASE_POOL_MODE)."""
    connect_args: dict[str, Any] = {"connect_timeout": connect_timeout}
    if settings.database_pool_mode == "transaction":
        connect_args["prepare_threshold"] = None  # psycopg's default: prepared after 5 runs
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=POOL_RECYCLE_SECONDS,
        # The most recently used connection first: a steady load keeps a few connections busy (never
        # idle long enough to be pinged) and leaves the others idle.
        pool_use_lifo=True,
        connect_args=connect_args,
        **options,
    )


@cache
def _read_engine() -> Engine | None:
    """The replica's engine, or None without DATABASE_READ_URL. Its connections are pinged at every
    checkout: a replica restarted or gone is found before a read starts, which then goes to the primary."""
    url = settings.sqlalchemy_read_url
    if url is None:
        return None
    return postgres_engine(url, connect_timeout=REPLICA_CONNECT_TIMEOUT_SECONDS, pool_pre_ping=True)


def _note_idle_since(_: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _: Any) -> None:
    """Ping a connection that sat idle (the server may have closed it meanwhile); a dead one is
    replaced by the pool, which then tries again (`DisconnectionError`)."""
    if time.monotonic() - record.info.get("idle_since", time.monotonic()) < IDLE_PING_SECONDS:
        return
    dialect = get_engine().dialect
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        raise DisconnectionError(f"idle connection lost: {type(exc).__name__}") from exc


@cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def new_session() -> Session:
    return _session_factory()()


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
            self.error = _driver_error(exc) or type(exc).__name__

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


@contextmanager
def database_errors() -> Iterator[None]:
    """The one place where the database's failures join the error tree.

    A lost database, or a pool with every connection busy for the pool timeout, is `ServiceUnavailable`
    (transient: retry later); a value the database refuses to store is `UnstorableValue` (permanent).
    """
    try:
        yield
    except PoolTimeoutError as exc:
        raise ServiceUnavailable("database", "connection pool exhausted") from exc
    except OperationalError as exc:
        raise ServiceUnavailable("database", _driver_error(exc)) from exc
    except DataError as exc:
        raise UnstorableValue(f"the request holds a value that cannot be stored: {_reason(exc)}") from exc
    except UnicodeEncodeError as exc:
        # The driver encodes each value on its way out: text with an unpaired surrogate fails here.
        raise UnstorableValue(f"the request holds text that is not valid Unicode: {exc.reason}") from exc


def _driver_error(exc: DBAPIError) -> str:
    return type(exc.orig).__name__ if exc.orig else ""


def _reason(exc: DBAPIError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig else "invalid value"


@contextmanager
def session_scope() -> Iterator[Session]:
    """A transaction: commit on success, roll back on error (database failures as `database_errors`)."""
    with request_session() as session:
        yield session
        session.commit()


@contextmanager
def request_session() -> Iterator[Session]:
    """A session its user commits itself (the API's routes); rolled back on error, always closed."""
    session = new_session()
    try:
        with database_errors():
            yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def autocommit_connection() -> Iterator[Connection]:
    """A connection on which each statement commits by itself: one round trip for a one-statement
    write or read, where a transaction adds a BEGIN and a COMMIT (database failures as
    `database_errors`)."""
    with database_errors(), _autocommit_engine().connect() as connection:
        yield connection


@cache
def _autocommit_engine() -> Engine:
    return get_engine().execution_options(isolation_level="AUTOCOMMIT")


def autocommit_read(read: Callable[[Connection], T]) -> T:
    """`read` on an autocommit connection; once more on a new connection if the first one was dead.

    Without a ping on checkout, the first statement after a database restart meets a closed
    connection; that invalidates the pool, and a read is safe to repeat. The API reads the key
    first in every request, so a restart costs its clients no failed request.
    """
    with database_errors():
        try:
            with _autocommit_engine().connect() as connection:
                return read(connection)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with _autocommit_engine().connect() as connection:
            return read(connection)


def is_postgres() -> bool:
    return get_engine().dialect.name == "postgresql"


def check_database() -> None:
    try:
        autocommit_read(lambda connection: connection.execute(text("SELECT 1")))
    except DBAPIError as exc:
        raise ServiceUnavailable("database", _driver_error(exc)) from exc


def alembic_config() -> object:
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini")) if (REPO_ROOT / "alembic.ini").exists() else Config()
    config.set_main_option("script_location", str(_alembic_dir()))
    return config


def _alembic_dir() -> Path:
    # A checkout has the migrations at its root; images copy them next to their working directory.
    for candidate in (Path.cwd() / "alembic", REPO_ROOT / "alembic"):
        if (candidate / "env.py").exists():
            return candidate
    raise FileNotFoundError("alembic/ migrations not found (run from the repository root)")


def migrate(revision: str = "head") -> None:
    """`alembic upgrade head` against `settings`' database."""
    from alembic import command

    command.upgrade(alembic_config(), revision)  # type: ignore[arg-type]
