"""New documents and their jobs, stored once per content (keyword-only, the connection passed in).

On PostgreSQL one statement inserts every new document and its job: `INSERT … ON CONFLICT DO
NOTHING` into `document_contents` claims each content for its document (the partitioned
`documents` cannot hold that unique key), content another document already holds is skipped, and
a document (with its job) is inserted only if it has no content hash or claimed its own. The rows
travel as one array per column (`unnest`), so the statement's text is the same for one document
or a thousand and the server prepares it once per connection. The column lists come from the
models: a column the caller does not set gets its model default, as the ORM would give it (a
column added later needs no change here).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Column, Connection, Table, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON

from sie.core.models import Document, DocumentContent, Job

DOCUMENTS: Table = Document.__table__  # type: ignore[assignment]
JOBS: Table = Job.__table__  # type: ignore[assignment]
# What each row sets; `tenant` is one value for all rows, the job's `document_id` is its document's.
DOCUMENT_COLUMNS = (
    "id", "source", "external_id", "title", "url", "text", "content_hash", "content_type", "metadata",
)  # fmt: skip
JOB_COLUMNS = ("id", "kind", "priority", "queue", "options")
_POSTGRES = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class FirstJob:
    """The job a document was accepted with: what a request for the same content is answered with."""

    document_id: uuid.UUID
    job_id: uuid.UUID
    status: str
    queue: str


def _defaulted(table: Table, given: Collection[str]) -> list[Column[Any]]:
    """The columns the caller does not set that have a model default."""
    return [column for column in table.columns if column.name not in given and column.default is not None]


_DOCUMENT_DEFAULTS = _defaulted(DOCUMENTS, {*DOCUMENT_COLUMNS, "tenant"})
_JOB_DEFAULTS = _defaulted(JOBS, {*JOB_COLUMNS, "tenant", "document_id"})


def _cast(name: str, column: Column[Any], array: str = "") -> str:
    return f"%({name})s::{column.type.compile(dialect=_POSTGRES)}{array}"


def _insert_into(
    table: Table, columns: Sequence[str], values: Sequence[str], defaults: list[Column[Any]]
) -> str:
    """`INSERT INTO table (columns…, defaulted…) SELECT values…, %(table_column)s…` (FROM to follow)."""
    names = ", ".join([*columns, *(column.name for column in defaults)])
    selected = ", ".join([*values, *(_cast(f"{table.name}_{column.name}", column) for column in defaults)])
    return f"INSERT INTO {table.name} ({names}) SELECT {selected}"


def _insert_statement() -> str:
    inputs = [("d_", DOCUMENTS.c[name]) for name in DOCUMENT_COLUMNS]
    inputs += [("j_", JOBS.c[name]) for name in JOB_COLUMNS]
    arrays = ", ".join(_cast(prefix + column.name, column, "[]") for prefix, column in inputs)
    aliases = ", ".join(prefix + column.name for prefix, column in inputs)
    documents = _insert_into(
        DOCUMENTS,
        ["tenant", *DOCUMENT_COLUMNS],
        ["%(tenant)s", *(f"d_{name}" for name in DOCUMENT_COLUMNS)],
        _DOCUMENT_DEFAULTS,
    )
    jobs = _insert_into(
        JOBS,
        ["tenant", "document_id", *JOB_COLUMNS],
        ["%(tenant)s", "d_id", *(f"j_{name}" for name in JOB_COLUMNS)],
        _JOB_DEFAULTS,
    )
    # Built from the models' names at import; every value is a parameter.
    return (
        f"WITH input AS (SELECT * FROM unnest({arrays}) AS input({aliases})), "  # noqa: S608
        "claimed AS (INSERT INTO document_contents (tenant, content_hash, document_id) "
        "SELECT %(tenant)s, d_content_hash, d_id FROM input WHERE d_content_hash IS NOT NULL "
        "ON CONFLICT DO NOTHING RETURNING document_id), "
        f"new_documents AS ({documents} FROM input "
        "WHERE d_content_hash IS NULL OR d_id IN (SELECT document_id FROM claimed) RETURNING id), "
        f"new_jobs AS ({jobs} FROM input JOIN new_documents ON new_documents.id = input.d_id) "
        "SELECT id FROM new_documents"
    )


INSERT_NEW = _insert_statement()


def _driver_value(column: Column[Any], value: Any) -> Any:
    return Jsonb(value) if isinstance(column.type, JSON) and value is not None else value


def _default_values(table: Table, columns: Sequence[Column[Any]]) -> dict[str, Any]:
    values = {}
    for column in columns:
        default: Any = column.default
        value = default.arg(None) if default.is_callable else default.arg
        values[f"{table.name}_{column.name}"] = _driver_value(column, value)
    return values


def insert_new(
    *,
    connection: Connection,
    tenant: str,
    documents: Sequence[Mapping[str, Any]],
    jobs: Sequence[Mapping[str, Any]],
) -> set[uuid.UUID]:
    """Insert each document, with the job at the same position, unless the tenant already stores its
    content; the ids of the documents inserted. PostgreSQL only."""
    params: dict[str, Any] = {"tenant": tenant}
    for prefix, rows, names, table in (
        ("d_", documents, DOCUMENT_COLUMNS, DOCUMENTS),
        ("j_", jobs, JOB_COLUMNS, JOBS),
    ):
        for name in names:
            params[prefix + name] = [_driver_value(table.c[name], row[name]) for row in rows]
    params |= _default_values(DOCUMENTS, _DOCUMENT_DEFAULTS) | _default_values(JOBS, _JOB_DEFAULTS)
    return set(connection.exec_driver_sql(INSERT_NEW, params).scalars())


# By the content's key (its primary key), never by a scan of every month of `documents`.
_FIRST_JOBS = (
    select(DocumentContent.content_hash, Job.document_id, Job.id, Job.status, Job.queue)
    .join(Job, Job.document_id == DocumentContent.document_id)
    .where(
        DocumentContent.tenant == bindparam("tenant"),
        DocumentContent.content_hash.in_(bindparam("hashes", expanding=True)),
    )
    .order_by(Job.created_at.desc())
)


def first_jobs(*, db: Session | Connection, tenant: str, hashes: Collection[str]) -> dict[str, FirstJob]:
    """The first job of each of the tenant's documents whose content has one of these hashes."""
    if not hashes:
        return {}
    rows = db.execute(_FIRST_JOBS, {"tenant": tenant, "hashes": list(hashes)}).all()
    # Ordered newest first, so the oldest job of each document is the one that stays in the dict.
    return {
        text_hash: FirstJob(document_id, job_id, status, queue)
        for text_hash, document_id, job_id, status, queue in rows
    }
