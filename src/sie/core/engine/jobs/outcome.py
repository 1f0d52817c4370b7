"""What happens to a job that does not finish here: it fails, retries, is dead-lettered, or goes to OCR.

Permanent errors fail the job at once; others retry with exponential backoff and, past
TASK_MAX_RETRIES, go to the dead-letter queue. Only the attempt that holds the job records an
outcome: a late failure of an attempt superseded by a second delivery changes nothing.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import update
from sqlalchemy.orm import Session

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.deadletter import publish_dead_letters, record_dead_letter
from sie.core.engine.jobs.claim import ClaimedJob
from sie.core.engine.jobs.stage import TIMEOUT_KIND
from sie.core.engine.outbox import enqueue_committed
from sie.core.errors import PermanentError, SieError
from sie.core.logging import get_logger
from sie.core.models import DeadLetter, Document, DocumentStatus, Job, JobKind, JobStatus, utcnow
from sie.core.queues import QUEUE_OCR, JobQueue

log = get_logger(__name__)


@dataclass(frozen=True)
class Failure:
    """How one attempt failed, and what that means for its job."""

    kind: str
    message: str
    permanent: bool
    dead: bool

    @classmethod
    def of(cls, job: ClaimedJob, exc: BaseException) -> Failure:
        permanent = isinstance(exc, PermanentError)
        return cls(
            kind=_error_kind(exc),
            message=f"{type(exc).__name__}: {exc}"[:2000],
            permanent=permanent,
            dead=not permanent and job.attempts > settings.task_max_retries,
        )

    @property
    def outcome(self) -> str:
        """The attempt's `outcome` in `sie_job_duration_seconds{stage="total"}`: a timeout is one
        whatever follows it (a retry or the dead-letter queue), which is what the p95 alert is for."""
        if self.kind == TIMEOUT_KIND:
            return TIMEOUT_KIND
        return "failed" if self.permanent else "dead" if self.dead else "retried"


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return TIMEOUT_KIND  # TASK_SOFT_TIME_LIMIT ran out during this job's stage
    return exc.kind if isinstance(exc, SieError) else "internal"


def retry_delay(attempt: int) -> float:
    """Exponential backoff with full jitter, capped (Celery's `retry_backoff` semantics)."""
    ceiling = min(settings.task_retry_backoff_max, 2 ** max(0, attempt - 1))
    return random.uniform(0.5, 1.0) * ceiling


def finish_failure(job: ClaimedJob, exc: BaseException, queue: JobQueue) -> None:
    """Permanent errors fail the job; others retry with backoff, then go to the dead-letter queue."""
    failure = Failure.of(job, exc)
    letters = _record_failure(job, failure)
    if letters is None:
        return
    metrics.count_error(failure.kind)
    metrics.JOB_DURATION.labels(stage="total", outcome=failure.outcome).observe(_seconds(job))
    if failure.permanent:
        log.warning(
            "job_failed",
            job_id=str(job.job_id),
            error=failure.message,
            kind=failure.kind,
            duration_ms=_ms(job),
        )
        metrics.DOCUMENTS.labels(status="failed", source=metrics.source_label(job.source)).inc()
    elif failure.dead:
        publish_dead_letters(letters)
        log.error("job_dead_lettered", job_id=str(job.job_id), error=failure.message, attempts=job.attempts)
        metrics.DOCUMENTS.labels(status="dead", source=metrics.source_label(job.source)).inc()
    else:
        _schedule_retry(job, failure, queue)


def _record_failure(job: ClaimedJob, failure: Failure) -> list[DeadLetter] | None:
    """Write the failure on the job row: the dead letters it made, or None (this attempt was superseded)."""
    with session_scope() as session:
        row = session.get(Job, job.job_id, with_for_update=True)
        if row is None or row.status != JobStatus.running or row.attempts != job.attempts:
            # A second delivery of the job (a message re-sent by the relay) claimed it since, or
            # finished it: that attempt's outcome stands, so this one's is not recorded twice
            # (two retries scheduled, or two dead letters for one job).
            log.info(
                "job_outcome_superseded",
                job_id=str(job.job_id),
                attempt=job.attempts,
                status=row.status if row else None,
            )
            return None
        row.error, row.error_kind = failure.message, failure.kind
        if failure.permanent:
            row.status, row.finished_at = JobStatus.failed, utcnow()
            _fail_document(session, job)
            return []
        if failure.dead:
            letter = record_dead_letter(
                session, row, error=failure.message, error_kind=failure.kind, source=job.source
            )
            _fail_document(session, job)
            return [letter]
        row.status, row.enqueued_at = JobStatus.pending, None
        return []


def _fail_document(session: Session, job: ClaimedJob) -> None:
    session.execute(
        update(Document).where(Document.id == job.document_id).values(status=DocumentStatus.failed)
    )


def _schedule_retry(job: ClaimedJob, failure: Failure, queue: JobQueue) -> None:
    delay = retry_delay(job.attempts)
    metrics.JOB_RETRIES.labels(queue=job.queue, kind=failure.kind).inc()
    log.warning(
        "job_retry_scheduled",
        job_id=str(job.job_id),
        attempt=job.attempts,
        delay_s=round(delay, 2),
        error=failure.message,
    )
    enqueue_committed(queue, job.queue, [job.job_id], countdown=delay)


def route_to_ocr(job: ClaimedJob, queue: JobQueue) -> None:
    """Hand the job to the OCR workers: it starts there afresh, as an OCR job."""
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.job_id)
            .values(kind=JobKind.ocr, queue=QUEUE_OCR, status=JobStatus.pending, enqueued_at=None, attempts=0)
        )
    log.info("job_routed_to_ocr", job_id=str(job.job_id))
    enqueue_committed(queue, QUEUE_OCR, [job.job_id])


def _seconds(job: ClaimedJob) -> float:
    return time.perf_counter() - job.started


def _ms(job: ClaimedJob) -> float:
    return round(_seconds(job) * 1000, 2)
