"""A job `pending` past RELAY_PENDING_RESEND_SECONDS whose message is gone from Redis is sent again.

Before, the relay re-sent only jobs that never reached Redis, jobs stuck `running`, and everything
after Redis lost all its data: a message discarded by a worker (an "unregistered task") left its
job `pending` for ever.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import update

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.backlog import queued_job_ids
from sie.core.engine.ingest import NewDocument
from sie.core.engine.queue import CeleryQueue, make_celery_app
from sie.core.engine.relay import LOST_MESSAGE_SWEEP_KEY, relay_cycle, resend_lost_messages
from sie.core.models import Job, utcnow
from sie.core.queues import QUEUE_EPOCH_KEY, QUEUE_NORMAL
from tests.worker.test_job_runner import RecordingQueue, job_row, submit, tenant

RESEND_AFTER = 120.0


@pytest.fixture
def sweep(redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """RELAY_PENDING_RESEND_SECONDS = 120, no sweep held by an earlier relay, our queue empty, and
    Redis has not lost its data (no reset: that sweep re-sends every unfinished job)."""
    monkeypatch.setattr(settings, "relay_pending_resend_seconds", RESEND_AFTER)
    redis_client.delete(LOST_MESSAGE_SWEEP_KEY, QUEUE_NORMAL)
    redis_client.set(QUEUE_EPOCH_KEY, "current")
    yield
    redis_client.delete(LOST_MESSAGE_SWEEP_KEY, QUEUE_NORMAL)


def sent_long_ago(*job_ids: uuid.UUID) -> None:
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids))
            .values(enqueued_at=utcnow() - timedelta(seconds=RESEND_AFTER + 60))
        )


def sent_at(job_id: uuid.UUID) -> datetime:
    enqueued_at = job_row(job_id).enqueued_at
    assert enqueued_at is not None
    return enqueued_at


def new_job(label: str) -> uuid.UUID:
    """A job committed and marked sent, whose message went nowhere (the recording queue)."""
    [job_id] = submit(tenant(), NewDocument(text=f"{label} {uuid.uuid4()}"))
    return job_id


def test_a_long_pending_job_without_a_message_is_sent_again_to_redis(
    sweep: None, redis_client: redis.Redis
) -> None:
    lost, waiting, recent = new_job("lost"), new_job("waiting"), new_job("recent")
    CeleryQueue().enqueue(QUEUE_NORMAL, [waiting])  # its message waits in Redis
    sent_long_ago(lost, waiting)
    waiting_since = sent_at(waiting)

    relay_cycle(CeleryQueue())  # what the API's relay thread runs every RELAY_INTERVAL_SECONDS

    in_redis = {uuid.UUID(job_id) for job_id in queued_job_ids(redis_client, [QUEUE_NORMAL])}
    assert lost in in_redis
    assert job_row(lost).status == "pending" and sent_at(lost) > utcnow() - timedelta(seconds=60)
    # A message still in Redis is left to its worker; a job sent recently may still be on its way.
    assert sent_at(waiting) == waiting_since
    assert recent not in in_redis


def test_a_message_held_by_a_worker_is_not_sent_twice(sweep: None) -> None:
    held = new_job("held")
    CeleryQueue().enqueue(QUEUE_NORMAL, [held])
    sent_long_ago(held)
    consumer = make_celery_app("sie-test-consumer")
    with consumer.connection_for_read() as connection:
        # Taken and not acknowledged: prefetched, running, or counting down to a retry.
        assert connection.default_channel.basic_get(QUEUE_NORMAL) is not None
        queue = RecordingQueue()
        resend_lost_messages(queue)
        assert held not in queue.job_ids()


def test_one_relay_sweeps_per_half_period(sweep: None, redis_client: redis.Redis) -> None:
    first = new_job("first")
    sent_long_ago(first)
    queue = RecordingQueue()
    assert resend_lost_messages(queue) >= 1 and first in queue.job_ids()
    assert 0 < redis_client.ttl(LOST_MESSAGE_SWEEP_KEY) <= RESEND_AFTER / 2

    second = new_job("second")
    sent_long_ago(second)
    assert resend_lost_messages(RecordingQueue()) == 0  # another relay swept a moment ago
    redis_client.delete(LOST_MESSAGE_SWEEP_KEY)  # half a period later
    queue = RecordingQueue()
    resend_lost_messages(queue)
    assert second in queue.job_ids()
