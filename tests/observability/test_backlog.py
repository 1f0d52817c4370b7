"""The true backlog, measured on the real Redis with SIE's Celery producer and a real kombu consumer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy import update

from bench.processes import free_port
from sie.core.db import session_scope
from sie.core.engine.backlog import (
    UNACKED_HASH,
    QueueBacklog,
    dead_letter_length,
    jobs_by_queue,
    queue_backlog,
    sample_backlog_metrics,
)
from sie.core.engine.deadletter import record_dead_letter, sync_dead_letter_list
from sie.core.engine.ingest import NewDocument, add_documents, ingest
from sie.core.engine.runtime import get_job_queue
from sie.core.errors import ServiceUnavailable
from sie.core.models import Job
from sie.core.queues import (
    DEAD_LETTER_LIST,
    QUEUE_HIGH,
    QUEUE_LOW,
    QUEUE_NORMAL,
    QUEUE_OCR,
    TASK_OCR_JOBS,
    TASK_PROCESS_JOBS,
)
from tests.observability.support import REPO_ROOT


def send(producer: Any, queue: str, priorities: list[int | None]) -> None:
    task = TASK_OCR_JOBS if queue == QUEUE_OCR else TASK_PROCESS_JOBS
    for priority in priorities:
        producer.send_task(
            task, args=[["00000000-0000-0000-0000-000000000000"]], queue=queue, priority=priority
        )


def test_counts_every_priority_list_and_every_reserved_message(broker: redis.Redis, producer: Any) -> None:
    send(producer, QUEUE_NORMAL, [None, 0, 3, 5, 9, 9])
    send(producer, QUEUE_HIGH, [None, 7])
    send(producer, QUEUE_OCR, [None])
    with producer.connection_for_read() as connection:
        channel = connection.default_channel
        taken = [
            channel.basic_get(QUEUE_NORMAL),
            channel.basic_get(QUEUE_NORMAL),
            channel.basic_get(QUEUE_HIGH),
        ]
        assert all(message is not None for message in taken)

        backlog = queue_backlog(broker)
        assert backlog == {
            QUEUE_HIGH: QueueBacklog(waiting=1, reserved=1),
            QUEUE_NORMAL: QueueBacklog(waiting=4, reserved=2),
            QUEUE_LOW: QueueBacklog(waiting=0, reserved=0),
            QUEUE_OCR: QueueBacklog(waiting=1, reserved=0),
        }
        assert backlog[QUEUE_NORMAL].total == 6
        # What the handbook's `redis-cli LLEN ingestion` would have said.
        assert broker.llen(QUEUE_NORMAL) < backlog[QUEUE_NORMAL].total

        taken[0].ack()
        assert queue_backlog(broker, [QUEUE_NORMAL])[QUEUE_NORMAL] == QueueBacklog(waiting=4, reserved=1)
    # A consumer that goes away hands its reservations back: the work is still there.
    assert queue_backlog(broker)[QUEUE_NORMAL] == QueueBacklog(waiting=5, reserved=0)
    assert queue_backlog(broker)[QUEUE_HIGH] == QueueBacklog(waiting=2, reserved=0)


def test_unacked_entries_of_other_queues_or_formats_are_not_counted(broker: redis.Redis) -> None:
    broker.hset(
        UNACKED_HASH,
        mapping={
            "tag-1": json.dumps([{"body": "x"}, "", "someone-elses-queue"]),
            "tag-2": "not json at all",
            "tag-3": json.dumps([{"body": "x"}, "", QUEUE_LOW]),
        },
    )
    assert queue_backlog(broker)[QUEUE_LOW] == QueueBacklog(waiting=0, reserved=1)
    assert sum(backlog.total for backlog in queue_backlog(broker).values()) == 1


def test_dead_letter_length_counts_the_dead_letter_list(broker: redis.Redis) -> None:
    assert dead_letter_length(broker) == 0
    broker.rpush(DEAD_LETTER_LIST, *(json.dumps({"job_id": str(n)}) for n in range(3)))
    assert dead_letter_length(broker) == 3


def test_sampler_sets_the_message_and_dlq_gauges(broker: redis.Redis, producer: Any) -> None:
    send(producer, QUEUE_LOW, [None, 9, 9])
    broker.rpush(DEAD_LETTER_LIST, "{}", "{}")
    with producer.connection_for_read() as connection:
        assert connection.default_channel.basic_get(QUEUE_LOW) is not None
        sample_backlog_metrics()
    assert REGISTRY.get_sample_value("sie_queue_messages", {"queue": QUEUE_LOW}) == 3
    assert REGISTRY.get_sample_value("sie_queue_messages", {"queue": QUEUE_HIGH}) == 0
    assert REGISTRY.get_sample_value("sie_dlq_length") == 2


def queue_length(queue: str) -> float | None:
    sample_backlog_metrics()
    return REGISTRY.get_sample_value("sie_queue_length", {"queue": queue})


def test_queue_length_counts_jobs_not_the_messages_that_carry_them(broker: redis.Redis) -> None:
    """40 documents in one request are 3 messages of up to 16 jobs: the handbook's threshold of
    1000 means jobs, and 1000 such messages would be 16,000 of them."""
    jobs_before = queue_length(QUEUE_LOW) or 0
    documents = [NewDocument(text=f"Batch {n} {uuid.uuid4()}", priority="low") for n in range(40)]
    submissions = ingest(get_job_queue(), tenant=f"t-{uuid.uuid4().hex[:8]}", documents=documents)
    assert {submission.queue for submission in submissions} == {QUEUE_LOW}

    assert queue_length(QUEUE_LOW) == jobs_before + 40
    assert REGISTRY.get_sample_value("sie_queue_messages", {"queue": QUEUE_LOW}) == 3
    # A worker finishing jobs takes them out of the count, whatever their messages do.
    with session_scope() as session:
        session.execute(
            update(Job).where(Job.id.in_([s.job_id for s in submissions[:10]])).values(status="done")
        )
    assert queue_length(QUEUE_LOW) == jobs_before + 30


def test_unreachable_redis_is_a_service_outage() -> None:
    client = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    with pytest.raises(ServiceUnavailable, match="redis"):
        queue_backlog(client)
    with pytest.raises(ServiceUnavailable, match="redis"):
        dead_letter_length(client)


def test_module_prints_the_backlog_for_people_on_call(broker: redis.Redis, producer: Any) -> None:
    send(producer, QUEUE_HIGH, [None, 3])
    # A dead letter as the engine records it: durable, then listed. Any relay running meanwhile
    # rebuilds the list from the durable records, so the list is made equal to them first.
    with session_scope() as session:
        (stored,) = add_documents(
            session, tenant=f"t-{uuid.uuid4().hex[:8]}", documents=[NewDocument(text=f"Dead {uuid.uuid4()}")]
        )
        job = session.get(Job, stored.job_id)
        assert job is not None
        record_dead_letter(session, job, error="HTTP 503", error_kind="fetch_transient", source="test")
    dead_letters = sync_dead_letter_list()
    assert dead_letters >= 1
    result = subprocess.run(
        [sys.executable, "-m", "sie.core.engine.backlog"],
        cwd=REPO_ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert rows["queue"] == ["waiting", "reserved", "total", "jobs"]
    jobs = jobs_by_queue()
    assert rows[QUEUE_HIGH] == ["2", "0", "2", str(jobs[QUEUE_HIGH])]
    assert rows[QUEUE_NORMAL] == ["0", "0", "0", str(jobs[QUEUE_NORMAL])]
    assert rows[DEAD_LETTER_LIST] == [str(dead_letters)]
