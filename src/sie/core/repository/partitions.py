"""Month partitions of `documents` and `document_entities` on PostgreSQL (docs/retention.md).

Both tables are partitioned by RANGE of `created_at`, one partition per UTC calendar month
(`documents_p2026_12`), plus a DEFAULT partition (`documents_default`) so that no insert ever
fails for want of a month. `ensure_partitions` creates the current month and the next `AHEAD`
ahead of time: the scheduler's hourly retention thread and `sie migrate` call it, so rows land in
their month, not in DEFAULT. A row can still land in DEFAULT: a document restored from the archive
into a month already dropped, or one created with a far-past or far-future `created_at`. It stays
there (retention deletes it row by row when it expires), unless its month's partition is created
later: then the rows DEFAULT holds for that month are moved into the new partition in the same
transaction (PostgreSQL refuses to create a partition whose rows sit in DEFAULT).

Everything here is a no-op on SQLite, or on a PostgreSQL database whose tables are not partitioned
(made by `create_all`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from sie.core.models import utcnow

PARTITIONED = ("documents", "document_entities")
# Months created ahead of the current one.
AHEAD = 2
# Serialises partition DDL between processes (`sie migrate` and the scheduler): an arbitrary key.
DDL_LOCK = 7_304_211
LOCK_TIMEOUT = "5s"
_MONTH_NAME = re.compile(r"_p(\d{4})_(\d{2})$")


def is_partitioned(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    kind = connection.scalar(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('documents')"))
    return kind == "p"


def month_of(moment: datetime) -> date:
    """The first day of a time's UTC month (naive times are UTC, as `UtcDateTime` stores them)."""
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y_%m}"


def bounds(month: date) -> tuple[str, str]:
    """The partition's range as timestamptz literals: [first instant of the month, of the next)."""
    return f"'{month:%Y-%m-%d} 00:00:00+00'", f"'{next_month(month):%Y-%m-%d} 00:00:00+00'"


def ensure_partitions(*, session: Session, now: datetime | None = None) -> list[str]:
    """Create the partitions of the current month and the `AHEAD` next ones that are missing;
    returns the names created. Commits with the caller's transaction."""
    connection = session.connection()
    if not is_partitioned(connection):
        return []
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK})
    # Creating a partition locks `documents` exclusively for a moment: never queue every insert
    # behind a long query. The months are made two ahead, so a try that gives up loses nothing.
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    month, created = month_of(now or utcnow()), []
    for _ in range(AHEAD + 1):
        for table in PARTITIONED:
            if _create_month(connection, table, month):
                created.append(partition_name(table, month))
        month = next_month(month)
    return created


def _create_month(connection: Connection, table: str, month: date) -> bool:
    name = partition_name(table, month)
    if connection.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is not None:
        return False
    low, high = bounds(month)
    in_range = f"created_at >= {low} AND created_at < {high}"
    # Names and bounds are made from dates here, never from input.
    stranded = connection.scalar(text(f"SELECT EXISTS (SELECT 1 FROM {table}_default WHERE {in_range})"))  # noqa: S608
    if not stranded:
        connection.execute(
            text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({low}) TO ({high})")
        )
        return True
    # DEFAULT holds rows of this month: move them into a table that then becomes the partition.
    columns = ", ".join(_stored_columns(connection, table))
    connection.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING GENERATED)"))
    connection.execute(
        text(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {table}_default WHERE {in_range}")  # noqa: S608
    )
    connection.execute(text(f"DELETE FROM {table}_default WHERE {in_range}"))  # noqa: S608
    connection.execute(
        text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})")
    )
    return True


def _stored_columns(connection: Connection, table: str) -> list[str]:
    """The columns a row is written with (not the generated ones), in table order."""
    return list(
        connection.scalars(
            text(
                "SELECT quote_ident(column_name) FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :table AND is_generated = 'NEVER' "
                "ORDER BY ordinal_position"
            ),
            {"table": table},
        )
    )


def month_partitions(*, session: Session) -> list[date]:
    """The months `documents` has a partition for, oldest first (none when not partitioned)."""
    connection = session.connection()
    if not is_partitioned(connection):
        return []
    names = connection.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'documents'::regclass"
        )
    )
    return sorted(_month(name) for name in names if _MONTH_NAME.search(name))


def detached_months(*, session: Session) -> list[date]:
    """Months whose `documents` partition was detached by a drop that did not finish."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    names = session.scalars(
        text(
            "SELECT relname FROM pg_class WHERE relname ~ '^documents_p[0-9]{4}_[0-9]{2}$' "
            "AND relkind = 'r' AND NOT relispartition AND relnamespace = current_schema()::regnamespace"
        )
    )
    return sorted(_month(name) for name in names)


def _month(name: str) -> date:
    found = _MONTH_NAME.search(name)
    assert found is not None
    return date(int(found[1]), int(found[2]), 1)


def table_tenants(*, session: Session, table: str) -> list[str]:
    """The tenants with documents in a month's table (attached or detached: its indexes stay with
    it): one probe of its (tenant, created_at) index per tenant (a loose index scan), not a scan."""
    return list(
        session.scalars(
            text(
                f"WITH RECURSIVE t(tenant) AS ("  # noqa: S608 (a name made from a date)
                f"(SELECT tenant FROM {table} ORDER BY tenant LIMIT 1) UNION ALL "
                f"SELECT (SELECT tenant FROM {table} WHERE tenant > t.tenant ORDER BY tenant LIMIT 1) "
                "FROM t WHERE t.tenant IS NOT NULL) SELECT tenant FROM t WHERE tenant IS NOT NULL"
            )
        )
    )


def month_document_ids(
    *, session: Session, table: str, tenant: str, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[tuple[datetime, uuid.UUID]]:
    """(created_at, id) of a tenant's documents in a month's table (attached or detached), oldest
    first, after the key `after`: a month is read batch by batch without being changed."""
    where = "tenant = :tenant" + (" AND (created_at, id) > (:created_at, :id)" if after else "")
    params = {"tenant": tenant, "limit": limit}
    if after:
        params |= {"created_at": after[0], "id": after[1]}
    rows = session.execute(
        text(f"SELECT created_at, id FROM {table} WHERE {where} ORDER BY created_at, id LIMIT :limit"),  # noqa: S608
        params,
    )
    return [(created_at, doc_id) for created_at, doc_id in rows]
