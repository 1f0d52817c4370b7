"""The true backlog of each queue, read from Redis: what `sie_queue_length` shows and the operator scales on.

Celery on Redis (kombu's transport) keeps one queue in several lists, one per priority step:
`ingestion`, `ingestion\\x06\\x163`, `ingestion\\x06\\x166`, `ingestion\\x06\\x169`. A message a worker
has taken leaves those lists and sits in the `unacked` hash until it is acknowledged; tasks ack
late, so that hash holds every message that is prefetched, running, or held for a retry countdown.
`LLEN ingestion` alone therefore undercounts; this module adds up all of it.

Those counts are Celery messages (`sie_queue_messages`, and what the operator scales on): a message
carries one job when documents arrive one by one and up to WORKER_BATCH_SIZE (16) when they arrive
in a batch. The handbook's "queue length > 1000" means jobs: `sie_queue_length` counts the queue's
unfinished jobs in PostgreSQL (pending: waiting in Redis, not yet sent, or held for a retry; or running).

`python -m sie.core.engine.backlog` prints the same numbers for people on call.
"""

from __future__ import annotations

import base64
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel
from sqlalchemy import func, select

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.errors import ServiceUnavailable
from sie.core.models import Job, JobStatus
from sie.core.queues import ALL_QUEUES, DEAD_LETTER_LIST
from sie.core.redis import redis_client

# kombu's names; our Celery app keeps the transport's defaults (sie.core.engine.queue.make_celery_app).
PRIORITY_SEPARATOR: str = Channel.sep
UNACKED_HASH: str = Channel.unacked_key
_SCAN_BATCH = 500


@dataclass(frozen=True)
class QueueBacklog:
    """Messages of one queue: still in Redis, and taken by a worker but not yet acknowledged."""

    waiting: int
    reserved: int

    @property
    def total(self) -> int:
        return self.waiting + self.reserved


def priority_lists(queue: str) -> list[str]:
    """The Redis lists kombu spreads `queue` over, one per priority step."""
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]


def queue_backlog(client: redis.Redis, queues: Iterable[str] = ALL_QUEUES) -> dict[str, QueueBacklog]:
    """Waiting and reserved messages per queue; raises `ServiceUnavailable` when Redis does not answer."""
    names = list(queues)
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                for key in priority_lists(name):
                    pipe.llen(key)
            lengths = pipe.execute()
        reserved = _reserved_by_queue(client, set(names))
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc
    steps = len(PRIORITY_STEPS)
    return {
        name: QueueBacklog(waiting=sum(lengths[index * steps : (index + 1) * steps]), reserved=reserved[name])
        for index, name in enumerate(names)
    }


def _reserved_by_queue(client: redis.Redis, queues: set[str]) -> Counter[str]:
    return Counter(routing_key for _, routing_key in _unacked_messages(client, queues))


def _unacked_messages(client: redis.Redis, queues: set[str]) -> Iterator[tuple[object, str]]:
    """(message, queue) of each message taken from `queues` and not yet acknowledged.

    Each entry is kombu's JSON `[message, exchange, routing_key]`; our queues are declared with
    routing key = queue name, so the routing key names the queue the message came from.
    """
    for _, raw in client.hscan_iter(UNACKED_HASH, count=_SCAN_BATCH):
        entry = _json(raw)
        if isinstance(entry, list) and len(entry) == 3 and entry[2] in queues:
            yield entry[0], entry[2]  # anything else is not kombu's format: not ours


def queued_job_ids(client: redis.Redis, queues: Iterable[str]) -> set[str]:
    """Ids of the jobs whose message is in Redis for `queues`: waiting in a list, or taken and unacknowledged.

    Lists are read from the head a page at a time: producers push there, which only moves what is
    left to read further down (read twice, never skipped); workers pop at the tail into `unacked`,
    which is read last.
    """
    names = set(queues)
    found: set[str] = set()
    try:
        for key in (key for name in names for key in priority_lists(name)):
            start = 0
            while page := client.lrange(key, start, start + _SCAN_BATCH - 1):
                found.update(job_id for raw in page for job_id in _message_job_ids(_json(raw)))
                start += len(page)
        for message, _ in _unacked_messages(client, names):
            found.update(_message_job_ids(message))
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc
    return found


def _json(raw: bytes | str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _message_job_ids(envelope: object) -> list[str]:
    """The job ids a kombu message carries: its task's one argument (see `queue.celery_message`)."""
    try:
        body = envelope["body"]  # type: ignore[index]
        if envelope["properties"].get("body_encoding") == "base64":  # type: ignore[index]
            body = base64.b64decode(body)
        args, _kwargs, _embed = json.loads(body)
        return [str(job_id) for job_id in args[0]]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return []  # not a message of ours


def jobs_by_queue(queues: Iterable[str] = ALL_QUEUES) -> dict[str, int]:
    """Unfinished jobs per queue, from PostgreSQL: pending (in Redis, in the outbox, or held for a
    retry) or running. The backlog in jobs, whatever number of messages carries them."""
    names = list(queues)
    with session_scope() as session:
        rows = session.execute(
            select(Job.queue, func.count())
            .where(Job.status.in_([JobStatus.pending, JobStatus.running]), Job.queue.in_(names))
            .group_by(Job.queue)
        ).all()
    counts = {queue: int(count) for queue, count in rows}
    return {name: counts.get(name, 0) for name in names}


def dead_letter_length(client: redis.Redis) -> int:
    """Entries in the `dead_letter` list (mirrored from the durable records by the relay)."""
    try:
        return int(client.llen(DEAD_LETTER_LIST))
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc


def sample_backlog_metrics() -> None:
    """Set `sie_queue_length{queue}` (jobs), `sie_queue_messages{queue}` and `sie_dlq_length`
    (the API's relay thread calls this)."""
    if settings.local_mode:
        return  # no Redis: jobs run in-process and have no queue to measure
    client = redis_client()
    backlogs = queue_backlog(client, ALL_QUEUES)
    dead_letters = dead_letter_length(client)
    for queue, backlog in backlogs.items():
        metrics.QUEUE_MESSAGES.labels(queue=queue).set(backlog.total)
    metrics.DLQ_LENGTH.set(dead_letters)
    for queue, jobs in jobs_by_queue(ALL_QUEUES).items():
        metrics.QUEUE_LENGTH.labels(queue=queue).set(jobs)


def format_backlog(backlogs: dict[str, QueueBacklog], jobs: dict[str, int], dead_letters: int) -> str:
    """Messages (waiting, reserved, total) and unfinished jobs per queue, then the dead letters."""
    rows = [f"{'queue':<16}{'waiting':>9}{'reserved':>10}{'total':>8}{'jobs':>8}"]
    rows += [
        f"{queue:<16}{backlog.waiting:>9}{backlog.reserved:>10}{backlog.total:>8}{jobs[queue]:>8}"
        for queue, backlog in backlogs.items()
    ]
    rows.append(f"{DEAD_LETTER_LIST:<16}{'':>9}{'':>10}{dead_letters:>8}")
    return "\n".join(rows)


def main() -> int:
    try:
        client = redis_client()
        report = format_backlog(
            queue_backlog(client, ALL_QUEUES), jobs_by_queue(ALL_QUEUES), dead_letter_length(client)
        )
    except ServiceUnavailable as exc:
        print(f"sie: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
