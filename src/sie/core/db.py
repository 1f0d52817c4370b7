"""Engine, sessions and connections. One engine per process, built lazily from `settings`.

PostgreSQL connections are not pinged at every checkout (a round trip each time: three for each
document the API accepted): a connection that sat idle in the pool for `IDLE_PING_SECONDS`
is pinged before use, every one is replaced after `POOL_RECYCLE_SECONDS`, and one that fails with a
disconnect invalidates the pool, so later checkouts reconnect (SQLAlchemy's invalidate-on-
disconnect). `autocommit_read` repeats a read once on a new connection: the API reads the caller's
key first, so a database restart between requests fails none of them.

With `DATABASE_POOL_MODE=transaction`
(PgBouncer in transaction mode) psycopg never prepares a statement on the server: the next
transaction may run on another server connection, which does not know it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from sie.core.config import settings
from sie.core.errors import ServiceUnavailable, UnstorableValue

REPO_ROOT = Path(__file__).resolve().parents[3]
IDLE_PING_SECONDS = 30.0
POOL_RECYCLE_SECONDS = 1800
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
        raise ServiceUnavailable("database", driver_error(exc)) from exc
    except DataError as exc:
        raise UnstorableValue(f"the request holds a value that cannot be stored: {_reason(exc)}") from exc
    except UnicodeEncodeError as exc:
        # The driver encodes each value on its way out: text with an unpaired surrogate fails here.
        raise UnstorableValue(f"the request holds text that is not valid Unicode: {exc.reason}") from exc


def driver_error(exc: DBAPIError) -> str:
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
        raise ServiceUnavailable("database", driver_error(exc)) from exc


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
