"""The outbox relay and the re-index sweep: what makes "accepted" mean "will be processed".

- Jobs committed but never handed to Redis (`enqueued_at IS NULL`, older than a grace period)
  are enqueued. Rows are taken with `FOR UPDATE SKIP LOCKED`, so several relays never send the
  same job twice at once (and a second send would be harmless: jobs are idempotent).
- A job still `running` past the hard time limit lost its worker (in local mode, its thread):
  it is sent again.
- Redis on these machines keeps nothing on disk: a restart empties every queue. The relay keeps
  an epoch key in Redis; when it has vanished, every unfinished job is sent again.
- A job `pending` for RELAY_PENDING_RESEND_SECONDS since it was sent, whose message is no longer
  in Redis (a worker discarded it, or it was lost with a broker node), is sent again. Finding that
  out reads every message of its queue, so the relays, between them, do it twice per that period.
- Documents stored while search was down are indexed once it answers again.
- The `dead_letter` list is rebuilt from the durable records when they differ.
- `sie_queue_length` (jobs), `sie_queue_messages`, `sie_dlq_length` are sampled (`sie.core.engine.backlog`).
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from datetime import timedelta

import redis
from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.backlog import queued_job_ids, sample_backlog_metrics
from sie.core.engine.deadletter import sync_dead_letter_list
from sie.core.engine.indexing import index_and_mark, search_document
from sie.core.errors import ServiceUnavailable
from sie.core.logging import get_logger
from sie.core.models import Document, DocumentStatus, Job, JobStatus, utcnow
from sie.core.queues import QUEUE_EPOCH_KEY, JobQueue
from sie.core.redis import redis_client

log = get_logger(__name__)
BATCH = 500
RELAY_PAGE = BATCH * 20
# No attempt outlives the hard time limit (plus warm-shutdown margin): past it, the worker is gone.
STALE_MARGIN_SECONDS = 60
# Held by the relay that sweeps for lost messages, for half RELAY_PENDING_RESEND_SECONDS.
LOST_MESSAGE_SWEEP_KEY = "sie:relay:lost-message-sweep"


def _queue_was_reset() -> bool:
    """True while Redis has lost its data (restart without persistence, FLUSHALL) and no relay has
    finished sending the unfinished jobs again (`_mark_queue_epoch`)."""
    if settings.local_mode:
        return False
    try:
        return not redis_client().exists(QUEUE_EPOCH_KEY)
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc


def _mark_queue_epoch() -> None:
    try:
        redis_client().set(QUEUE_EPOCH_KEY, uuid.uuid4().hex)
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc


def relay_once(queue: JobQueue) -> int:
    """Enqueue jobs stuck in the outbox; after a queue reset, every unfinished job. Returns the count.

    After a reset the epoch key is set only once every unfinished job was sent again: a relay that
    fails half-way (the database is down too) leaves the reset for the next cycle, not forgotten.
    """
    reset = _queue_was_reset()
    if reset:
        log.warning("queue_reset_detected")
    sent, after = 0, None
    while True:
        page = _relay_page(queue, reset=reset, after=after)
        sent += len(page)
        # One page per cycle for the outbox; after a reset, every page now, in id order.
        if not reset or len(page) < RELAY_PAGE:
            break
        after = page[-1]
    if reset:
        _mark_queue_epoch()
    if sent:
        metrics.OUTBOX_RELAYED.inc(sent)
        log.info("outbox_relayed", jobs=sent, after_reset=reset)
    return sent


def _relay_page(queue: JobQueue, *, reset: bool, after: uuid.UUID | None) -> list[uuid.UUID]:
    now = utcnow()
    outbox_cutoff = now - timedelta(seconds=settings.relay_grace_seconds)
    stale_cutoff = now - timedelta(seconds=settings.task_time_limit + STALE_MARGIN_SECONDS)
    with session_scope() as session:
        query = select(Job.id, Job.queue).where(Job.status.in_([JobStatus.pending, JobStatus.running]))
        if reset:
            query = query.order_by(Job.id)
            if after is not None:
                query = query.where(Job.id > after)
        else:
            query = query.where(
                or_(
                    and_(
                        Job.status == JobStatus.pending,
                        Job.enqueued_at.is_(None),
                        Job.created_at < outbox_cutoff,
                    ),
                    and_(Job.status == JobStatus.running, Job.started_at < stale_cutoff),
                )
            )
        return _send_locked(session, queue, query)


def _send_locked(session: Session, queue: JobQueue, query: Select[tuple[uuid.UUID, str]]) -> list[uuid.UUID]:
    """Lock a page of the (id, queue) rows `query` selects, send them, mark them sent; their ids."""
    rows = session.execute(query.limit(RELAY_PAGE).with_for_update(skip_locked=True)).all()
    by_queue: dict[str, list[uuid.UUID]] = defaultdict(list)
    for job_id, queue_name in rows:
        by_queue[queue_name].append(job_id)
    for queue_name, job_ids in by_queue.items():
        queue.enqueue(queue_name, job_ids)
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(enqueued_at=utcnow()))
    return [job_id for job_id, _ in rows]


def resend_lost_messages(queue: JobQueue) -> int:
    """Send again the jobs long `pending` whose message is gone from Redis. Returns the count.

    Nothing else would run them: the outbox sweep takes only jobs never sent, the reset sweep only
    a Redis that lost everything. A job whose message waits in a list, or is held by a worker
    (prefetched, or counting down to a retry), is left alone, however long it has waited.
    """
    if settings.local_mode or not _lost_message_sweep_due():
        return 0
    sent_before = utcnow() - timedelta(seconds=settings.relay_pending_resend_seconds)
    waiting = select(Job.id, Job.queue).where(Job.status == JobStatus.pending, Job.enqueued_at < sent_before)
    with session_scope() as session:
        candidates = session.execute(waiting.limit(RELAY_PAGE)).all()
    if not candidates:
        return 0
    in_redis = queued_job_ids(redis_client(), {queue_name for _, queue_name in candidates})
    lost = [job_id for job_id, _ in candidates if str(job_id) not in in_redis]
    if not lost:
        return 0
    with session_scope() as session:
        # Still pending and unsent since: a job claimed or re-sent meanwhile is not sent twice.
        sent = _send_locked(session, queue, waiting.where(Job.id.in_(lost)))
    if sent:
        metrics.OUTBOX_RELAYED.inc(len(sent))
        log.warning("lost_messages_resent", jobs=len(sent), pending_s=settings.relay_pending_resend_seconds)
    return len(sent)


def _lost_message_sweep_due() -> bool:
    """True for one relay in each half RELAY_PENDING_RESEND_SECONDS (a Redis key shared by all relays)."""
    period = max(1, int(settings.relay_pending_resend_seconds / 2))
    try:
        return bool(redis_client().set(LOST_MESSAGE_SWEEP_KEY, "1", nx=True, ex=period))
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc


def reindex_once() -> int:
    """Index stored documents that missed the index (search was down). Returns the count."""
    with session_scope() as session:
        documents = session.scalars(
            select(Document)
            .where(Document.status == DocumentStatus.done, Document.indexed_at.is_(None))
            .order_by(Document.processed_at)
            .limit(BATCH)
        ).all()
        pending = [search_document(document) for document in documents]
    if pending and index_and_mark(pending):
        metrics.REINDEXED.inc(len(pending))
        log.info("reindexed", documents=len(pending))
        return len(pending)
    return 0


def mark_all_for_reindex() -> int:
    """`sie reindex --all`: rebuild the whole index (e.g. a new Meilisearch instance)."""
    with session_scope() as session:
        result = session.execute(
            update(Document).where(Document.indexed_at.is_not(None)).values(indexed_at=None)
        )
        return result.rowcount or 0


def relay_cycle(queue: JobQueue) -> None:
    # The backlog gauges are sampled here, in the API, so they keep reporting when no worker is up.
    for step in (
        lambda: relay_once(queue),
        lambda: resend_lost_messages(queue),
        reindex_once,
        sync_dead_letter_list,
        sample_backlog_metrics,
    ):
        try:
            step()
        except ServiceUnavailable as exc:
            log.warning("relay_step_unavailable", reason=str(exc))
        except Exception:
            log.exception("relay_step_failed")
            metrics.count_error("internal")


def run_relay(queue: JobQueue, stop: threading.Event) -> None:
    log.info("relay_started", interval_s=settings.relay_interval_seconds)
    while not stop.wait(settings.relay_interval_seconds):
        relay_cycle(queue)


def start_relay_thread(queue: JobQueue) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_relay, args=(queue, stop), name="sie-relay", daemon=True).start()
    return stop
