"""Documents: the enriched document, the uploaded bytes until extraction, its entities, and which
document holds each content of a tenant.

On PostgreSQL `documents` and `document_entities` are partitioned by month of `created_at`
(`sie.core.repository.partitions`, migration a7d9e1f3c5b8): their keys include `created_at`, no
unique index can hold `(tenant, content_hash)` alone, and no foreign key can point at
`documents.id`. So content is deduplicated through `document_contents`, and the rows that belong
to a document (jobs, blobs, entity rows, its content row) are removed by the code that removes
the document (`sie.core.repository.removal`), not by a cascade.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Computed,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

from sie.core.models.base import Base, DocumentStatus, utcnow

# What PostgreSQL full-text search matches and ranks: the title weighted A, above the text (B).
DOCUMENT_SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(text, '')), 'B')"
)


class _SearchVectorExpression(ColumnElement[Any]):
    """`DOCUMENT_SEARCH_VECTOR_SQL` on PostgreSQL; NULL elsewhere (SQLite searches an FTS5 table)."""

    inherit_cache = True


@compiles(_SearchVectorExpression)
def _search_vector_elsewhere(element: _SearchVectorExpression, compiler: SQLCompiler, **kw: Any) -> str:
    return "NULL"


@compiles(_SearchVectorExpression, "postgresql")
def _search_vector_postgres(element: _SearchVectorExpression, compiler: SQLCompiler, **kw: Any) -> str:
    return DOCUMENT_SEARCH_VECTOR_SQL


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # A partitioned table's key must hold its partition key; `id` alone is unique all the same.
        PrimaryKeyConstraint("id", "created_at"),
        Index("ix_documents_tenant_created_at", "tenant", "created_at", "source", "sentiment_label"),
        Index("ix_documents_tenant_external_id", "tenant", "external_id"),
        Index("ix_documents_unindexed", "indexed_at", "status"),
        Index("ix_documents_tenant_published_at", "tenant", "published_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200), default="api")
    external_id: Mapped[str | None] = mapped_column(String(500), default=None)
    title: Mapped[str | None] = mapped_column(String(1000), default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.pending)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    language: Mapped[str | None] = mapped_column(String(10), default=None)
    # What the page says about itself (`pipeline.html_meta`); a feed entry's own date wins.
    author: Mapped[str | None] = mapped_column(String(300), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    canonical_url: Mapped[str | None] = mapped_column(Text, default=None)
    site_name: Mapped[str | None] = mapped_column(String(300), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    duplicate_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    sentiment_compound: Mapped[float | None] = mapped_column(Float, default=None)
    sentiment_label: Mapped[str | None] = mapped_column(String(10), default=None)
    # Extraction details: page count, OCR confidence per page, low-confidence words.
    extraction: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    indexed_at: Mapped[datetime | None] = mapped_column(default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The partition key: a document never changes month.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Kept by the database on every insert and update (a stored generated column), indexed by
    # `ix_documents_search` (GIN). Deferred: rows are read for their fields, never their vector.
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR().with_variant(Text(), "sqlite"),
        Computed(_SearchVectorExpression(), persisted=True),
        deferred=True,
        nullable=True,
    )

    # The ORM knows a document by its id alone (`session.get(Document, id)`). Never read
    # `search_vector` back after a write: nothing needs it, and SQLite has no such column.
    __mapper_args__ = {"primary_key": [id], "eager_defaults": False}


class DocumentBlob(Base):
    """The uploaded bytes of a file, kept until the worker has extracted its text."""

    __tablename__ = "document_blobs"

    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    filename: Mapped[str | None] = mapped_column(String(500), default=None)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentEntity(Base):
    """One row per (document, entity): what the entity insights and the entity filter read.

    `created_at` is its document's, so the row lives in its document's month partition. On
    PostgreSQL the key is `(id, created_at)` (the migration's); the model keeps `id` alone so that
    SQLite numbers the rows itself (it only does for a single INTEGER PRIMARY KEY).
    """

    __tablename__ = "document_entities"
    __table_args__ = (
        Index("ix_document_entities_tenant_text", "tenant", "text"),
        Index("ix_document_entities_tenant_created_at", "tenant", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    tenant: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(30))
    count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentContent(Base):
    """Which document holds each content of a tenant: one copy of identical content per tenant.

    The key that `documents` cannot carry once partitioned. A row exists exactly while its document
    exists with that `content_hash`: accept inserts it in the same statement as the document (and
    skips content already held), the worker moves it when it stores another text, and removal
    deletes it with the document.
    """

    __tablename__ = "document_contents"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
