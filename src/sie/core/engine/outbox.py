"""The outbox: jobs are committed with their documents, and handed to the queue only after the commit.

A job whose hand-over fails (the broker is down) keeps `enqueued_at IS NULL`: it is still in the
outbox, and the relay (`sie.core.engine.relay`) sends it later, so an accepted document is never lost.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from sie.core import metrics
from sie.core.db import session_scope
from sie.core.errors import ServiceUnavailable
from sie.core.logging import get_logger
from sie.core.models import Job, utcnow
from sie.core.queues import JobQueue

log = get_logger(__name__)


@dataclass(frozen=True)
class Submission:
    """A committed job and its document (or, for known content, the existing ones: `duplicate`)."""

    job_id: uuid.UUID
    document_id: uuid.UUID
    status: str
    queue: str
    duplicate: bool = False

    def as_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "job_id": str(self.job_id),
            "document_id": str(self.document_id),
            "status": self.status,
        }
        if self.duplicate:
            body["duplicate"] = True
        return body


def enqueue_new(queue: JobQueue, submissions: Sequence[Submission]) -> bool:
    """Send freshly committed jobs to workers; on a broker outage leave them to the relay."""
    by_queue: dict[str, list[uuid.UUID]] = defaultdict(list)
    for submission in submissions:
        if not submission.duplicate:
            by_queue[submission.queue].append(submission.job_id)
    if not by_queue:
        return True
    try:
        for queue_name, job_ids in by_queue.items():
            queue.enqueue(queue_name, job_ids)
            metrics.JOBS_SUBMITTED.labels(queue=queue_name).inc(len(job_ids))
    except ServiceUnavailable as exc:
        log.warning("enqueue_deferred", reason=str(exc), jobs=sum(len(ids) for ids in by_queue.values()))
        metrics.count_error("enqueue_deferred")
        return False
    mark_enqueued([job_id for ids in by_queue.values() for job_id in ids])
    return True


def enqueue_committed(
    queue: JobQueue, queue_name: str, job_ids: Sequence[uuid.UUID], *, countdown: float = 0
) -> bool:
    """Send jobs already committed as pending (a retry, a hand-over, a replay) and mark them sent.

    False when the broker is down: the jobs stay in the outbox and the relay sends them once it is back.
    """
    try:
        queue.enqueue(queue_name, job_ids, countdown=countdown)
    except ServiceUnavailable:
        return False
    mark_enqueued(job_ids)
    return True


def mark_enqueued(job_ids: Sequence[uuid.UUID]) -> None:
    try:
        with session_scope() as session:
            session.execute(
                update(Job).where(Job.id.in_(job_ids), Job.enqueued_at.is_(None)).values(enqueued_at=utcnow())
            )
    except ServiceUnavailable:
        # Harmless: the relay would enqueue them once more, and jobs are idempotent.
        log.warning("mark_enqueued_failed", jobs=len(job_ids))
