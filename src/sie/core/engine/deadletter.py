"""The dead-letter queue: a durable PostgreSQL record per dead job, mirrored in the `dead_letter` Redis list.

The runbook reads the Redis list (`redis-cli LLEN dead_letter`, `LRANGE dead_letter 0 10`); the
table is the truth, so a Redis restart loses no dead letter: `sync_dead_letter_list` rebuilds the
list from it. Replays go through `replay_dead_letters` and discards through `discard_dead_letters`,
the owners of the DLQ.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sie.core import metrics
from sie.core.db import session_scope
from sie.core.engine.outbox import enqueue_committed
from sie.core.errors import ServiceUnavailable
from sie.core.logging import get_logger
from sie.core.models import DeadLetter, Document, Job, JobStatus, utcnow
from sie.core.queues import DEAD_LETTER_LIST, JobQueue, task_for_queue
from sie.core.redis import redis_client, redis_client_or_none
from sie.core.repository.dead_letters import ReplaySelector, pending_dead_letters, select_dead_letters

log = get_logger(__name__)


def entry_json(letter: DeadLetter) -> str:
    return json.dumps(
        {
            "id": str(letter.id),
            "job_id": str(letter.job_id),
            "tenant": letter.tenant,
            "queue": letter.queue,
            "task": letter.task,
            "source": letter.source,
            "error": letter.error,
            "error_kind": letter.error_kind,
            "attempts": letter.attempts,
            "created_at": letter.created_at.isoformat(),
        },
        sort_keys=True,
    )


def record_dead_letter(
    session: Session, job: Job, *, error: str, error_kind: str, source: str | None
) -> DeadLetter:
    """Mark the job dead and write its durable record (in the caller's transaction)."""
    job.status = JobStatus.dead
    job.error = error
    job.error_kind = error_kind
    job.finished_at = utcnow()
    letter = DeadLetter(
        id=uuid.uuid4(),
        job_id=job.id,
        tenant=job.tenant,
        queue=job.queue,
        task=task_for_queue(job.queue),
        source=source,
        error=error,
        error_kind=error_kind,
        attempts=job.attempts,
        created_at=utcnow(),
    )
    session.add(letter)
    metrics.DEAD_LETTERED.labels(queue=job.queue, kind=error_kind).inc()
    return letter


def publish_dead_letters(letters: Sequence[DeadLetter]) -> None:
    """Mirror committed dead letters into the Redis list; a failure is repaired by the next sync."""
    if not letters or redis_client_or_none() is None:
        return
    try:
        redis_client().rpush(DEAD_LETTER_LIST, *(entry_json(letter) for letter in letters))
    except redis.RedisError as exc:
        log.warning("dead_letter_publish_failed", reason=type(exc).__name__, count=len(letters))


def unpublish_dead_letters(letters: Sequence[DeadLetter]) -> None:
    """Take replayed or discarded letters out of the Redis list, one `LREM` each (no rewrite of the
    whole list); a failure is repaired by the relay's next sync."""
    if not letters or redis_client_or_none() is None:
        return
    try:
        with redis_client().pipeline(transaction=False) as pipe:
            for letter in letters:
                pipe.lrem(DEAD_LETTER_LIST, 1, entry_json(letter))
            pipe.llen(DEAD_LETTER_LIST)
            metrics.DLQ_LENGTH.set(pipe.execute()[-1])
    except redis.RedisError as exc:
        log.warning("dead_letter_unpublish_failed", reason=type(exc).__name__, count=len(letters))


def sync_dead_letter_list() -> int:
    """Make the Redis list equal the durable records (after a Redis restart, or a replay)."""
    client = redis_client_or_none()
    if client is None:
        return 0
    with session_scope() as session:
        letters = pending_dead_letters(session=session)
        expected = [entry_json(letter) for letter in letters]
    try:
        current = [item.decode() for item in client.lrange(DEAD_LETTER_LIST, 0, -1)]
        if current != expected:
            pipe = client.pipeline(transaction=True)
            pipe.delete(DEAD_LETTER_LIST)
            if expected:
                pipe.rpush(DEAD_LETTER_LIST, *expected)
            pipe.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc
    metrics.DLQ_LENGTH.set(len(expected))
    return len(expected)


def replay_dead_letters(
    queue: JobQueue, selector: ReplaySelector, *, replayed_by: str, limit: int | None = None
) -> list[DeadLetter]:
    """Send matching dead jobs back to their queues, once each; record who replayed them."""
    with session_scope() as session:
        letters = select_dead_letters(session=session, selector=selector, limit=limit)
        _reset_for_replay(session, letters, replayed_by=replayed_by)
    by_queue: dict[str, list[uuid.UUID]] = {}
    for letter in letters:
        by_queue.setdefault(letter.queue, []).append(letter.job_id)
    for queue_name, job_ids in by_queue.items():
        # If the broker is down the jobs stay in the outbox and the relay sends them.
        if not enqueue_committed(queue, queue_name, job_ids):
            log.warning("replay_enqueue_deferred", jobs=len(job_ids))
    if letters:
        log.info("dead_letters_replayed", count=len(letters), replayed_by=replayed_by)
        unpublish_dead_letters(letters)
    return letters


def discard_dead_letters(
    selector: ReplaySelector, *, discarded_by: str, limit: int | None = None
) -> list[DeadLetter]:
    """Give up on matching dead letters, once each: their jobs stay dead; record who discarded them."""
    with session_scope() as session:
        letters = select_dead_letters(session=session, selector=selector, limit=limit)
        now = utcnow()
        for letter in letters:
            letter.discarded_at = now
            letter.discarded_by = discarded_by
    if letters:
        log.info("dead_letters_discarded", count=len(letters), discarded_by=discarded_by)
        unpublish_dead_letters(letters)
    return letters


def _reset_for_replay(session: Session, letters: Sequence[DeadLetter], *, replayed_by: str) -> None:
    """Mark the letters replayed and their jobs (and documents) pending again, with a fresh attempt count."""
    now = utcnow()
    for letter in letters:
        letter.replayed_at = now
        letter.replayed_by = replayed_by
    # A few statements per call, not per letter: replays of thousands of jobs stay fast.
    jobs = session.scalars(
        select(Job).where(Job.id.in_([letter.job_id for letter in letters])).with_for_update()
    ).all()
    for job in jobs:
        job.status = JobStatus.pending
        job.attempts = 0
        job.error = None
        job.error_kind = None
        job.enqueued_at = None
        job.finished_at = None
    if jobs:
        session.execute(
            update(Document)
            .where(Document.id.in_([job.document_id for job in jobs]))
            .values(status="pending")
        )
