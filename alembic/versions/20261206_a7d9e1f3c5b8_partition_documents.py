"""documents and document_entities partitioned by month of created_at; document_contents for dedup

On PostgreSQL both tables become RANGE-partitioned on `created_at`, one partition per UTC month
(`documents_p2026_12`) plus a DEFAULT one, so that retention drops a whole expired month instead
of deleting it row by row (`sie.core.repository.partitions`). The upgrade copies the data: each
table is made again partitioned (`LIKE` the old one: same columns, defaults, generated
`search_vector`), with a partition for every month its rows hold, the current month and the next
two, and DEFAULT; the rows are copied (`search_vector` is computed again, as a rewrite would), the
old table dropped and the new one renamed, and the indexes made again from the old ones'
definitions after the copy (one sort each, not one insertion per row). `documents` is locked the
whole time: minutes per million rows. Entity rows take their document's `created_at`, so each
lives in its document's month (an older SIE stamped them when it stored them).

What partitioning rules out, and what replaces it:
- A partitioned table's unique keys must hold the partition key: the primary keys become
  `(id, created_at)`; `id` stays unique (a uuid4, or the entity rows' sequence).
- `(tenant, content_hash)` cannot be unique on `documents` any more: the new non-partitioned
  `document_contents (tenant, content_hash) -> document_id` is that key, filled here from the
  documents. Accept inserts into it in its one statement (`ON CONFLICT DO NOTHING`), the worker
  moves a document's row when it stores another text, removal deletes it.
- No foreign key can reference `documents(id)`, which is no longer unique on its own. The foreign
  keys of jobs, document_blobs, document_entities and source_items are dropped, and the code that
  removes documents removes their rows (`sie.core.repository.removal`, and a dropped month's in
  `sie.core.repository.partition_drop`). Composite keys carrying `created_at` into every child
  were the other way: they would put a document's month into jobs, blobs and source items, make
  the accept statement and every child insert carry it, and still need the rows deleted before a
  partition is detached; deleting the children is needed either way, so the keys were dropped.
  `source_items.document_id` gets an index: removal updates it by document.

The downgrade copies the data back into plain tables and restores the keys, the unique index and
the foreign keys (rows whose document is gone, none if the code kept them in step, are deleted or
set NULL first, as the cascades would have). On SQLite (local mode, never partitioned) only
`document_contents` and the indexes change.

Revision ID: a7d9e1f3c5b8
Revises: 9f3c5e7a2b46
Create Date: 2026-12-06 15:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa

from alembic import op

revision: str = 'a7d9e1f3c5b8'
down_revision: str | None = '9f3c5e7a2b46'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONED = ("documents", "document_entities")
MONTHS_AHEAD = 2
# (table, foreign key to documents.id, its ON DELETE), as the earlier migrations made them.
REFERENCING = (
    ("jobs", "fk_jobs_document_id_documents", "CASCADE"),
    ("document_blobs", "fk_document_blobs_document_id_documents", "CASCADE"),
    ("document_entities", "fk_document_entities_document_id_documents", "CASCADE"),
    ("source_items", "fk_source_items_document_id_documents", "SET NULL"),
)
UNIQUE_CONTENT = "CREATE UNIQUE INDEX uq_documents_tenant_content_hash ON documents (tenant, content_hash)"


def upgrade() -> None:
    op.create_table('document_contents',
    sa.Column('tenant', sa.String(length=100), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'content_hash', name=op.f('pk_document_contents'))
    )
    op.execute(
        "INSERT INTO document_contents (tenant, content_hash, document_id) "
        "SELECT tenant, content_hash, id FROM documents WHERE content_hash IS NOT NULL"
    )
    op.create_index(
        op.f('ix_document_contents_document_id'), 'document_contents', ['document_id'], unique=False
    )
    op.create_index(op.f('ix_source_items_document_id'), 'source_items', ['document_id'], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index('uq_documents_tenant_content_hash', table_name='documents')
        return
    for table, name, _ in REFERENCING:
        op.drop_constraint(name, table, type_='foreignkey')
    op.drop_index('uq_documents_tenant_content_hash', table_name='documents')
    indexes = {table: _index_definitions(table) for table in PARTITIONED}
    months = _months_to_create()
    _copy("documents", "SELECT {columns} FROM documents", months, partitioned=True)
    # Each entity row moves to its document's time, hence its month.
    _copy(
        "document_entities",
        "SELECT {entity_columns} FROM document_entities e JOIN documents d ON d.id = e.document_id",
        months,
        partitioned=True,
    )
    _swap(indexes, key="id, created_at")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        indexes = {table: _index_definitions(table) for table in PARTITIONED}
        _copy("documents", "SELECT {columns} FROM documents", [], partitioned=False)
        _copy("document_entities", "SELECT {columns} FROM document_entities", [], partitioned=False)
        _swap(indexes, key="id")
        _delete_orphans()
        for table, name, ondelete in REFERENCING:
            op.create_foreign_key(name, table, 'documents', ['document_id'], ['id'], ondelete=ondelete)
    op.execute(UNIQUE_CONTENT)
    op.drop_index(op.f('ix_source_items_document_id'), table_name='source_items')
    op.drop_index(op.f('ix_document_contents_document_id'), table_name='document_contents')
    op.drop_table('document_contents')


def _index_definitions(table: str) -> list[str]:
    """`CREATE INDEX` of each of the table's indexes but its primary key, to replay on the copy
    (a partitioned parent's read `ON ONLY`, which would leave the partitions without them)."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :table "
            "AND indexname <> :pk ORDER BY indexname"
        ),
        {"table": table, "pk": f"pk_{table}"},
    )
    return [definition.replace(" ON ONLY ", " ON ") for (definition,) in rows]


def _months_to_create() -> list[date]:
    """Every month the documents hold, and the current one with those ahead."""
    held = op.get_bind().scalars(
        sa.text("SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')::date FROM documents")
    )
    now = datetime.now(UTC)
    month = date(now.year, now.month, 1)
    months = set(held)
    for _ in range(MONTHS_AHEAD + 1):
        months.add(month)
        month = _next(month)
    return sorted(months)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _columns(table: str) -> list[str]:
    return list(
        op.get_bind().scalars(
            sa.text(
                "SELECT quote_ident(column_name) FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :table "
                "AND is_generated = 'NEVER' ORDER BY ordinal_position"
            ),
            {"table": table},
        )
    )


def _copy(table: str, select: str, months: list[date], *, partitioned: bool) -> None:
    """`<table>_new`, LIKE `table` (partitioned or not), filled from `select`."""
    columns = _columns(table)
    new = f"{table}_new"
    partition_by = " PARTITION BY RANGE (created_at)" if partitioned else ""
    op.execute(f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING GENERATED){partition_by}")
    for month in months:
        op.execute(
            f"CREATE TABLE {table}_p{month:%Y_%m} PARTITION OF {new} "
            f"FOR VALUES FROM ('{month:%Y-%m-%d} 00:00:00+00') TO ('{_next(month):%Y-%m-%d} 00:00:00+00')"
        )
    if partitioned:
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {new} DEFAULT")
    entity_columns = ", ".join("d.created_at" if name == "created_at" else f"e.{name}" for name in columns)
    selected = select.format(columns=", ".join(columns), entity_columns=entity_columns)
    op.execute(f"INSERT INTO {new} ({', '.join(columns)}) {selected}")


def _swap(indexes: dict[str, list[str]], *, key: str) -> None:
    """The copies take the tables' places, with their keys and indexes made after the data."""
    sequence = op.get_bind().scalar(sa.text("SELECT pg_get_serial_sequence('document_entities', 'id')"))
    # The entity ids' sequence belongs to the old column: it must outlive that table.
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    for table in reversed(PARTITIONED):
        op.execute(f"DROP TABLE {table}")
    for table in PARTITIONED:
        op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
        for definition in indexes[table]:
            op.execute(definition)
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY document_entities.id")


def _delete_orphans() -> None:
    for table, _, ondelete in REFERENCING:
        orphan = f"NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = {table}.document_id)"  # noqa: S608
        if ondelete == "SET NULL":
            op.execute(f"UPDATE {table} SET document_id = NULL WHERE document_id IS NOT NULL AND {orphan}")  # noqa: S608
        else:
            op.execute(f"DELETE FROM {table} WHERE {orphan}")  # noqa: S608
