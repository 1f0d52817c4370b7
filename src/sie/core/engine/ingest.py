"""Accepting documents: the one path by which the API, the CLI and sources create work.

Document and job rows are written in one transaction; jobs are enqueued only after the commit,
through the outbox (`sie.core.engine.outbox`), so an accepted document is never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sie.core.db import session_scope
from sie.core.engine.outbox import Submission, enqueue_new
from sie.core.models import Document, DocumentBlob, DocumentStatus, Job, JobKind, JobStatus
from sie.core.pipeline.fingerprint import content_hash
from sie.core.queues import JobQueue, queue_for

OcrStrategy = Literal["auto", "ocr_only", "no_ocr"]


@dataclass(frozen=True)
class NewDocument:
    """One document to ingest: exactly one of text, url or data."""

    text: str | None = None
    url: str | None = None
    data: bytes | None = None
    filename: str | None = None
    content_type: str | None = None
    title: str | None = None
    source: str = "api"
    priority: str = "normal"
    metadata: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    ocr_strategy: OcrStrategy = "auto"
    fetch_headers: dict[str, str] | None = None
    kind: str = JobKind.ingest


def _existing_submissions(session: Session, tenant: str, hashes: set[str]) -> dict[str, Submission]:
    """The first job of each of the tenant's documents whose content has one of these hashes."""
    if not hashes:
        return {}
    rows = session.execute(
        select(Document.content_hash, Document.id, Job.id, Job.status, Job.queue)
        .join(Job, Job.document_id == Document.id)
        .where(Document.tenant == tenant, Document.content_hash.in_(hashes))
        .order_by(Job.created_at.desc())
    ).all()
    # Ordered newest first, so the oldest job of each document is the one that stays in the dict.
    return {
        text_hash: Submission(
            job_id=job_id, document_id=document_id, status=status, queue=queue, duplicate=True
        )
        for text_hash, document_id, job_id, status, queue in rows
    }


def _new_rows(tenant: str, new: NewDocument, text_hash: str | None) -> tuple[list[object], Submission]:
    document = Document(
        id=uuid.uuid4(),
        tenant=tenant,
        source=new.source,
        external_id=new.external_id,
        title=new.title,
        url=new.url,
        text=new.text,
        content_hash=text_hash,
        content_type="text/plain" if new.text is not None else new.content_type,
        meta=new.metadata,
        status=DocumentStatus.pending,
    )
    queue = queue_for(priority=new.priority, kind=new.kind)
    job = Job(
        id=uuid.uuid4(),
        tenant=tenant,
        document_id=document.id,
        kind=new.kind,
        priority=new.priority,
        queue=queue,
        status=JobStatus.pending,
        options={
            key: value
            for key, value in (("ocr_strategy", new.ocr_strategy), ("fetch_headers", new.fetch_headers))
            if value
        },
    )
    rows: list[object] = [document, job]
    if new.data is not None:
        rows.insert(
            1,
            DocumentBlob(
                document_id=document.id, filename=new.filename, content_type=new.content_type, data=new.data
            ),
        )
    return rows, Submission(job_id=job.id, document_id=document.id, status=job.status, queue=queue)


def add_documents(session: Session, *, tenant: str, documents: Sequence[NewDocument]) -> list[Submission]:
    """Write document and job rows in the caller's transaction. Call `enqueue_new` after commit.

    Content already stored for the tenant (same text hash) is answered with the existing document.
    All rows go in one flush; if a concurrent request stored the same content meanwhile, the unique
    index refuses the flush and each document is retried in its own savepoint.
    """
    hashes = [content_hash(new.text) if new.text is not None else None for new in documents]
    known = _existing_submissions(session, tenant, {text_hash for text_hash in hashes if text_hash})
    submissions: list[Submission] = []
    rows: list[object] = []
    for new, text_hash in zip(documents, hashes, strict=True):
        if text_hash is not None and text_hash in known:
            submissions.append(known[text_hash])
            continue
        new_rows, submission = _new_rows(tenant, new, text_hash)
        rows.extend(new_rows)
        submissions.append(submission)
        if text_hash is not None:
            known[text_hash] = replace(submission, duplicate=True)
    try:
        with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:
        return [
            _add_one(session, tenant, new, text_hash)
            for new, text_hash in zip(documents, hashes, strict=True)
        ]
    return submissions


def _add_one(session: Session, tenant: str, new: NewDocument, text_hash: str | None) -> Submission:
    """One document in its own savepoint: a concurrent insert of the same content loses cleanly."""
    existing = _existing_submissions(session, tenant, {text_hash} if text_hash else set())
    if text_hash is not None and text_hash in existing:
        return existing[text_hash]
    rows, submission = _new_rows(tenant, new, text_hash)
    try:
        with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:
        existing = _existing_submissions(session, tenant, {text_hash} if text_hash else set())
        if text_hash is not None and text_hash in existing:
            return existing[text_hash]
        raise
    return submission


def ingest(queue: JobQueue, *, tenant: str, documents: Sequence[NewDocument]) -> list[Submission]:
    """Accept documents for a tenant: commit their rows, then enqueue their jobs."""
    with session_scope() as session:
        submissions = add_documents(session, tenant=tenant, documents=documents)
    enqueue_new(queue, submissions)
    return submissions
