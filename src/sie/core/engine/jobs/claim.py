"""Claiming jobs: mark them running (attempt + 1) and load what their stages need, in one transaction.

A job still `running` when it is claimed again lost its worker mid-attempt (SIGKILL, the OOM
killer). That attempt counts as failed: past TASK_MAX_RETRIES the job is dead-lettered here,
since a job that kills every worker it runs on would otherwise be redelivered forever.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.deadletter import publish_dead_letters, record_dead_letter
from sie.core.logging import get_logger
from sie.core.models import DeadLetter, Document, DocumentBlob, DocumentStatus, Job, JobStatus, utcnow

log = get_logger(__name__)

WORKER_LOST_KIND = "worker_lost"
FINISHED = (JobStatus.done, JobStatus.failed, JobStatus.dead)


@dataclass
class ClaimedJob:
    """A job this worker now runs, with what its stages need (loaded once, passed by value)."""

    job_id: uuid.UUID
    document_id: uuid.UUID
    tenant: str
    kind: str
    queue: str
    attempts: int
    options: dict[str, Any]
    source: str
    title: str | None
    url: str | None
    text: str | None
    blob: bytes | None
    blob_filename: str | None
    blob_content_type: str | None
    started: float = field(default_factory=time.perf_counter)


def claim_jobs(job_ids: Sequence[uuid.UUID]) -> list[ClaimedJob]:
    """Mark the jobs running (attempt +1) and load their inputs; finished jobs are skipped."""
    letters: list[DeadLetter] = []
    with session_scope() as session:
        open_jobs = []
        for job in session.scalars(
            select(Job).where(Job.id.in_(job_ids)).order_by(Job.id).with_for_update()
        ).all():
            if job.status in FINISHED:
                log.info("job_skipped", job_id=str(job.id), status=job.status)
                continue
            if job.status == JobStatus.running:
                _observe_lost_attempt(job)
                if job.attempts > settings.task_max_retries:
                    letters.append(_dead_letter_lost_job(session, job))
                    continue
            open_jobs.append(job)
        claimed = _start_attempts(session, open_jobs)
    publish_dead_letters(letters)
    return claimed


def _start_attempts(session: Session, jobs: Sequence[Job]) -> list[ClaimedJob]:
    document_ids = [job.document_id for job in jobs]
    documents = {
        doc.id: doc for doc in session.scalars(select(Document).where(Document.id.in_(document_ids)))
    }
    blobs = {
        blob.document_id: blob
        for blob in session.scalars(select(DocumentBlob).where(DocumentBlob.document_id.in_(document_ids)))
    }
    for job in jobs:
        job.status = JobStatus.running
        job.attempts += 1
        job.started_at = utcnow()
    return [_claimed(job, documents[job.document_id], blobs.get(job.document_id)) for job in jobs]


def _claimed(job: Job, document: Document, blob: DocumentBlob | None) -> ClaimedJob:
    return ClaimedJob(
        job_id=job.id,
        document_id=document.id,
        tenant=job.tenant,
        kind=job.kind,
        queue=job.queue,
        attempts=job.attempts,
        options=dict(job.options or {}),
        source=document.source,
        title=document.title,
        url=document.url,
        # Pushed text is stored at submit time (with its hash); other documents get theirs from a reader.
        text=document.text if document.content_hash is not None else None,
        blob=blob.data if blob else None,
        blob_filename=blob.filename if blob else None,
        blob_content_type=blob.content_type if blob else None,
    )


def _observe_lost_attempt(job: Job) -> None:
    """The previous attempt lost its worker (killed at TASK_TIME_LIMIT, OOM): its time, as `lost`."""
    if job.started_at is not None:
        elapsed = (utcnow() - job.started_at).total_seconds()
        metrics.JOB_DURATION.labels(stage="total", outcome="lost").observe(max(elapsed, 0.0))


def _dead_letter_lost_job(session: Session, job: Job) -> DeadLetter:
    error = (
        f"the worker running this job was lost {job.attempts} times "
        "(killed, or out of memory) before it could finish"
    )
    document = session.get(Document, job.document_id)
    letter = record_dead_letter(
        session, job, error=error, error_kind=WORKER_LOST_KIND, source=document.source if document else None
    )
    if document is not None:
        document.status = DocumentStatus.failed
    metrics.count_error(WORKER_LOST_KIND)
    metrics.DOCUMENTS.labels(status="dead", source=metrics.source_label(letter.source or "")).inc()
    log.error("job_dead_lettered", job_id=str(job.id), error=error, attempts=job.attempts, queue=job.queue)
    return letter
