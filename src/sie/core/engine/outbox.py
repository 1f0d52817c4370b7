"""The outbox: jobs are committed with their documents, and handed to the queue only after the commit.

A job whose hand-over fails (the broker is down) keeps `enqueued_at IS NULL`: it is still in the
outbox, and the relay (`sie.core.engine.relay`) sends it later, so an accepted document is never lost.

The API stamps `enqueued_at` in batches (`LATER`, every `MARK_INTERVAL_SECONDS`) rather than with a
statement of its own per request: a round trip saved on every accept. A process that dies before
its batch is written leaves those jobs sent and unmarked: the relay sends them once more after its
grace period (`RELAY_GRACE_SECONDS`, far longer than the interval), and jobs are idempotent.
"""

from __future__ import annotations

import atexit
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, update

from sie.core import metrics
from sie.core.db import autocommit_connection
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


def enqueue_new(queue: JobQueue, submissions: Sequence[Submission], *, mark_later: bool = False) -> bool:
    """Send freshly committed jobs to workers; on a broker outage leave them to the relay.

    `mark_later`: stamp them sent with the next batch (`LATER`) instead of now."""
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
    sent = [job_id for ids in by_queue.values() for job_id in ids]
    if mark_later:
        LATER.add(sent)
    else:
        mark_enqueued(sent)
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


_MARK_ENQUEUED = (
    update(Job)
    .where(Job.id.in_(bindparam("ids", expanding=True)), Job.enqueued_at.is_(None))
    .values(enqueued_at=bindparam("now"))
)


def mark_enqueued(job_ids: Sequence[uuid.UUID]) -> None:
    """Take sent jobs out of the outbox: one autocommit statement."""
    try:
        with autocommit_connection() as connection:
            connection.execute(_MARK_ENQUEUED, {"ids": list(job_ids), "now": utcnow()})
    except ServiceUnavailable:
        # Harmless: the relay would enqueue them once more, and jobs are idempotent.
        log.warning("mark_enqueued_failed", jobs=len(job_ids))


MARK_INTERVAL_SECONDS = 0.2


class LaterMarks:
    """Sent jobs waiting to be stamped, written by one statement per interval from a daemon thread
    (started with the first job; the rest are written when the process exits)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._waiting: list[uuid.UUID] = []
        self._thread: threading.Thread | None = None

    def add(self, job_ids: Sequence[uuid.UUID]) -> None:
        with self._lock:
            self._waiting.extend(job_ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sie-enqueued-marks", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def flush(self) -> None:
        with self._lock:
            job_ids, self._waiting = self._waiting, []
        if job_ids:
            mark_enqueued(job_ids)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # the loop must outlive any one batch; the relay covers a lost one
                log.exception("mark_enqueued_failed")


LATER = LaterMarks(MARK_INTERVAL_SECONDS)
