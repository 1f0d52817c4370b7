"""The true backlog of each queue, read from Redis: what `sie_queue_length` shows and the operator scales on.

Celery on Redis (kombu's transport) keeps one queue in several lists, one per priority step:
`ingestion`, `ingestion\\x06\\x163`, `ingestion\\x06\\x166`, `ingestion\\x06\\x169`. A message a worker
has taken leaves those lists and sits in the `unacked` hash until it is acknowledged; tasks ack
late, so that hash holds every message that is prefetched, running, or held for a retry countdown.
`LLEN ingestion` alone therefore undercounts; this module adds up all of it.

The unit is the Celery message: a message carries one job when documents arrive one by one and up
to `sie.core.engine.queue.MESSAGE_BATCH_SIZE` jobs when they arrive in a batch.

`python -m sie.core.engine.backlog` prints the same numbers for people on call.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel

from sie.core import metrics
from sie.core.config import settings
from sie.core.errors import ServiceUnavailable
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
    # Each entry is kombu's JSON `[message, exchange, routing_key]`; our queues are declared with
    # routing key = queue name, so the routing key names the queue the message came from.
    counts: Counter[str] = Counter()
    for _, raw in client.hscan_iter(UNACKED_HASH, count=_SCAN_BATCH):
        try:
            _message, _exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue  # not kombu's format: not ours to count
        if routing_key in queues:
            counts[routing_key] += 1
    return counts


def dead_letter_length(client: redis.Redis) -> int:
    """Entries in the `dead_letter` list (mirrored from the durable records by the relay)."""
    try:
        return int(client.llen(DEAD_LETTER_LIST))
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc


def sample_backlog_metrics() -> None:
    """Set `sie_queue_length{queue}` and `sie_dlq_length` from Redis (the API's relay thread calls this)."""
    if settings.local_mode:
        return  # no Redis: jobs run in-process and have no queue to measure
    client = redis_client()
    backlogs = queue_backlog(client, ALL_QUEUES)
    dead_letters = dead_letter_length(client)
    for queue, backlog in backlogs.items():
        metrics.QUEUE_LENGTH.labels(queue=queue).set(backlog.total)
    metrics.DLQ_LENGTH.set(dead_letters)


def format_backlog(backlogs: dict[str, QueueBacklog], dead_letters: int) -> str:
    rows = [f"{'queue':<16}{'waiting':>9}{'reserved':>10}{'total':>8}"]
    rows += [
        f"{queue:<16}{backlog.waiting:>9}{backlog.reserved:>10}{backlog.total:>8}"
        for queue, backlog in backlogs.items()
    ]
    rows.append(f"{DEAD_LETTER_LIST:<16}{'':>9}{'':>10}{dead_letters:>8}")
    return "\n".join(rows)


def main() -> int:
    try:
        client = redis_client()
        report = format_backlog(queue_backlog(client, ALL_QUEUES), dead_letter_length(client))
    except ServiceUnavailable as exc:
        print(f"sie: {exc}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
