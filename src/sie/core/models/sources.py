"""Declared sources and the items each has seen."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from sie.core.models.base import Base, Priority, utcnow


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
    # No foreign key: `documents` is partitioned; removal sets this to NULL, as SET NULL did (by
    # this index, not a scan per removed document).
    document_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
