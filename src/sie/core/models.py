"""SQLAlchemy 2 models: the schema Alembic migrates (a test keeps the two in agreement)."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamps on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType, list[Any]: JsonType}


class Priority(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"


class JobStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"
    dead = "dead"


class DocumentStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"
    duplicate = "duplicate"


class JobKind(enum.StrEnum):
    ingest = "ingest"
    ocr = "ocr"


class ApiKey(Base):
    __tablename__ = "api_keys"

    # The public half of the key (`sie_<id>_<secret>`); the secret is stored only as an HMAC.
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    key_hash: Mapped[str] = mapped_column(String(64))
    # Per-priority overrides of the handbook's limits: {"normal": {"requests": 600, "period": 60}}.
    rate_limits: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # One copy of identical content per tenant; a redelivered job can never add a second.
        Index("uq_documents_tenant_content_hash", "tenant", "content_hash", unique=True),
        Index("ix_documents_tenant_created_at", "tenant", "created_at"),
        Index("ix_documents_tenant_external_id", "tenant", "external_id"),
        Index("ix_documents_unindexed", "indexed_at", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200), default="api")
    external_id: Mapped[str | None] = mapped_column(String(500), default=None)
    title: Mapped[str | None] = mapped_column(String(1000), default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.pending)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    language: Mapped[str | None] = mapped_column(String(10), default=None)
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    blob: Mapped[DocumentBlob | None] = relationship(back_populates="document", lazy="raise")


class DocumentBlob(Base):
    """The uploaded bytes of a file, kept until the worker has extracted its text."""

    __tablename__ = "document_blobs"

    document_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    filename: Mapped[str | None] = mapped_column(String(500), default=None)
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    document: Mapped[Document] = relationship(back_populates="blob")


class DocumentEntity(Base):
    """One row per (document, entity): what the entity insights and the entity filter read."""

    __tablename__ = "document_entities"
    __table_args__ = (
        Index("ix_document_entities_tenant_text", "tenant", "text"),
        Index("ix_document_entities_tenant_created_at", "tenant", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    tenant: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(30))
    count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # The outbox relay's query: committed jobs that never reached the queue.
        Index("ix_jobs_status_enqueued_at", "status", "enqueued_at"),
        Index("ix_jobs_tenant_created_at", "tenant", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(100))
    document_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default=JobKind.ingest)
    priority: Mapped[str] = mapped_column(String(10), default=Priority.normal)
    queue: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_kind: Mapped[str | None] = mapped_column(String(50), default=None)
    # Options the pipeline needs (OCR strategy, fetch headers from a source...).
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdempotencyRecord(Base):
    """`Idempotency-Key` replays: same key and body give the same answer; another body is a 409."""

    __tablename__ = "idempotency_keys"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """The durable copy of each dead-lettered job; the `dead_letter` Redis list mirrors it."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_tenant_created_at", "tenant", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(50))
    task: Mapped[str] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(200), default=None)
    error: Mapped[str] = mapped_column(Text)
    error_kind: Mapped[str] = mapped_column(String(50))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Who replayed it (`api:<key id>`, `operator:<namespace>/<name>`): the audit trail.
    replayed_by: Mapped[str | None] = mapped_column(String(300), default=None)


class Source(Base):
    """A declared source (feed, URL list, sitemap) polled on a schedule, with its polling state."""

    __tablename__ = "sources"
    __table_args__ = (
        Index("uq_sources_tenant_name", "tenant", "name", unique=True),
        # The scheduler's due-sources query.
        Index("ix_sources_due", "suspend", "next_run_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(30))
    url: Mapped[str | None] = mapped_column(Text, default=None)
    urls: Mapped[list[Any]] = mapped_column(default=list)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    priority: Mapped[str] = mapped_column(String(10), default=Priority.normal)
    suspend: Mapped[bool] = mapped_column(Boolean, default=False)
    ocr_strategy: Mapped[str] = mapped_column(String(20), default="auto")
    auth_header_name: Mapped[str] = mapped_column(String(100), default="Authorization")
    # A secret passed in by the operator from a Kubernetes Secret; never logged, never returned.
    auth_header_value: Mapped[str | None] = mapped_column(Text, default=None)
    include_patterns: Mapped[list[Any]] = mapped_column(default=list)
    exclude_patterns: Mapped[list[Any]] = mapped_column(default=list)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_ingested: Mapped[int] = mapped_column(Integer, default=0)
    items_skipped: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_poll: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Conditional-GET validators of the source URL(s): {url: {"etag": ..., "last_modified": ...}}.
    validators: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SourceItem(Base):
    """One item a source has seen (by URL): what makes a second poll skip it."""

    __tablename__ = "source_items"
    __table_args__ = (
        Index("uq_source_items_source_url_hash", "source_id", "url_hash", unique=True),
        Index("ix_source_items_tenant_url_hash", "tenant", "url_hash"),
        Index("ix_source_items_tenant_content_hash", "tenant", "content_hash"),
        Index("ix_source_items_source_guid", "source_id", "guid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sources.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64))
    guid: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[str] = mapped_column(String(20), default="ingested")
    etag: Mapped[str | None] = mapped_column(String(500), default=None)
    last_modified: Mapped[str | None] = mapped_column(String(100), default=None)
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    document_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("documents.id", ondelete="SET NULL"), default=None
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = [
    "ApiKey",
    "Base",
    "DeadLetter",
    "Document",
    "DocumentBlob",
    "DocumentEntity",
    "DocumentStatus",
    "IdempotencyRecord",
    "Job",
    "JobKind",
    "JobStatus",
    "Priority",
    "Source",
    "SourceItem",
    "utcnow",
]
