"""How jobs reach a worker: Celery on Redis, or an in-process pool in local mode.

Production: Celery on Redis, one queue per priority plus one for OCR, consumed in strict priority
order (`sie.core.queues` names them). Local mode: the same task body runs on an in-process thread pool.
Which one a process uses is chosen where the process is assembled (`sie.core.engine.runtime`).
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import TypeVar

import redis
from celery import Celery
from kombu import Queue
from kombu.utils.json import dumps

from sie.core.config import settings
from sie.core.engine.broker import TRANSPORT_NAME
from sie.core.errors import ServiceUnavailable
from sie.core.queues import (
    ALL_QUEUES,
    QUEUE_NORMAL,
    QUEUE_OCR,
    TASK_OCR_JOBS,
    task_for_queue,
)
from sie.core.redis import redis_client

WORKER_PROCESS_START_TIMEOUT_SECONDS = 120.0
JobId = TypeVar("JobId", str, uuid.UUID)


def make_celery_app(main: str = "sie", queues: Sequence[str] = ALL_QUEUES) -> Celery:
    """The Celery app with the handbook's settings (§5.2); workers and producers share it.

    `queues`, highest priority first, are what a worker of this app consumes when started without
    `-Q`, as the handbook starts it: a worker app lists only the queues whose task it runs.
    """
    app = Celery(main, broker=settings.redis_url, backend=None)
    app.conf.update(
        # kombu's Redis transport, fixed so a worker survives a Redis outage (see sie.core.engine.broker).
        broker_transport=TRANSPORT_NAME,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        worker_prefetch_multiplier=1,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_NORMAL if QUEUE_NORMAL in queues else queues[0],
        task_queues=[Queue(name) for name in queues],
        task_routes={TASK_OCR_JOBS: {"queue": QUEUE_OCR}},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout,
            # BRPOP the queues in the order given: high before normal before low.
            "queue_order_strategy": "priority",
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        },
        worker_max_tasks_per_child=settings.worker_max_tasks_per_child or None,
        # A new pool process loads spaCy (or EasyOCR) before it reports up. Celery's default of 4 s
        # is shorter than that on a busy CPU: each replacement of a killed process was itself killed,
        # and the pool never refilled.
        worker_proc_alive_timeout=WORKER_PROCESS_START_TIMEOUT_SECONDS,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
    )
    return app


_producer_lock = threading.Lock()


def celery_producer() -> Celery:
    # The API's first requests arrive together, and building the app touches celery's lazy module
    # attributes, which are not thread-safe: one such request failed with "cannot import name 'Celery'".
    with _producer_lock:
        return _build_producer()


@cache
def _build_producer() -> Celery:
    return make_celery_app("sie-producer")


def message_batches(ids: Sequence[JobId]) -> Iterator[list[JobId]]:
    """`ids` cut into messages of WORKER_BATCH_SIZE jobs: each is one task, one NLP batch, one time limit."""
    size = settings.worker_batch_size
    return (list(ids[start : start + size]) for start in range(0, len(ids), size))


def celery_message(queue: str, job_ids: list[str], *, countdown: float = 0) -> bytes:
    """The message `send_task` would push for `job_ids` onto `queue`'s Redis list.

    Celery builds the task message itself (`as_task_v2`: protocol 2 headers, body, properties); the
    envelope around it is kombu's for its Redis transport (`Channel.prepare_message` and
    `_inplace_augment_message`): the JSON body base64-encoded, persistent, default priority, sent
    to the default exchange with the queue as the routing key.
    """
    task_id = str(uuid.uuid4())
    headers, properties, body, _ = celery_producer().amqp.as_task_v2(
        task_id, task_for_queue(queue), args=[job_ids], kwargs={}, countdown=countdown or None
    )
    envelope = {
        "body": base64.b64encode(dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **properties,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return dumps(envelope).encode()


class CeleryQueue:
    """Jobs as Celery tasks on Redis, pushed straight onto the queue's list with the process's Redis
    client: the message `send_task` sends, for a third of its CPU (the API publishes on every
    request; `send_task` took a producer from its pool, declared the queue and routed each time)."""

    name = "celery"

    def enqueue(self, queue: str, job_ids: Sequence[uuid.UUID], *, countdown: float = 0) -> None:
        ids = [str(job_id) for job_id in job_ids]
        messages = [celery_message(queue, batch, countdown=countdown) for batch in message_batches(ids)]
        if not messages:
            return
        try:
            # Workers pop from the other end (BRPOP): one LPUSH keeps the messages in order.
            redis_client().lpush(queue, *messages)
        except redis.RedisError as exc:
            raise ServiceUnavailable("redis", type(exc).__name__) from exc

    def check(self) -> None:
        try:
            redis_client().ping()
        except redis.RedisError as exc:
            raise ServiceUnavailable("redis", type(exc).__name__) from exc


class InProcessQueue:
    """Local mode: jobs run on a thread pool in this process, with the same task body."""

    name = "in-process"

    def __init__(self, handler: Callable[[str, list[uuid.UUID]], None], workers: int = 2) -> None:
        self._handler = handler
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sie-job")
        self._pending: set[Future[None]] = set()
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def enqueue(self, queue: str, job_ids: Sequence[uuid.UUID], *, countdown: float = 0) -> None:
        for chunk in message_batches(list(job_ids)):
            if countdown > 0:
                self._schedule_later(queue, chunk, countdown)
            else:
                self._submit(queue, chunk)

    def _submit(self, queue: str, job_ids: list[uuid.UUID]) -> None:
        with self._lock:
            future = self._executor.submit(self._handler, queue, job_ids)
            self._pending.add(future)
        future.add_done_callback(self._finished)

    def _schedule_later(self, queue: str, job_ids: list[uuid.UUID], countdown: float) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            self._submit(queue, job_ids)

        timer = threading.Timer(countdown, fire)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)
            self._idle.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is running or scheduled; True if that happened within `timeout`."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending and not self._timers, timeout)

    def check(self) -> None:
        return None
