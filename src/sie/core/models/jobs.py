"""Jobs (one per document, through the queues) and the dead letters of those that died."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from sie.core.models.base import Base, JobKind, JobStatus, Priority, utcnow


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # The outbox relay's query: committed jobs that never reached the queue.
        Index("ix_jobs_status_enqueued_at", "status", "enqueued_at"),
        Index("ix_jobs_tenant_created_at", "tenant", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(100))
    # No foreign key: `documents` is partitioned (`sie.core.models.documents`); removal deletes jobs.
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
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
    # A letter given up on (`sie dead-letters discard`): its job stays dead; audited as replays are.
    discarded_at: Mapped[datetime | None] = mapped_column(default=None)
    discarded_by: Mapped[str | None] = mapped_column(String(300), default=None)
