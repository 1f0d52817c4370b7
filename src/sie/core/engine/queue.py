"""How jobs reach a worker: Celery on Redis, or an in-process pool in local mode.

Production: Celery on Redis, one queue per priority plus one for OCR, consumed in strict priority
order (`sie.core.queues` names them). Local mode: the same task body runs on an in-process thread pool.
Which one a process uses is chosen where the process is assembled (`sie.core.engine.runtime`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache

import redis
from celery import Celery
from kombu import Queue
from kombu.exceptions import OperationalError

from sie.core.config import settings
from sie.core.engine.broker import TRANSPORT_NAME
from sie.core.errors import ServiceUnavailable
from sie.core.queues import (
    ALL_QUEUES,
    MESSAGE_BATCH_SIZE,
    QUEUE_NORMAL,
    QUEUE_OCR,
    TASK_OCR_JOBS,
    task_for_queue,
)
from sie.core.redis import redis_client

WORKER_PROCESS_START_TIMEOUT_SECONDS = 120.0


def make_celery_app(main: str = "sie") -> Celery:
    """The Celery app with the handbook's settings (§5.2); workers and producers share it."""
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
        task_default_queue=QUEUE_NORMAL,
        task_queues=[Queue(name) for name in ALL_QUEUES],
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


class CeleryQueue:
    name = "celery"

    def enqueue(self, queue: str, job_ids: Sequence[uuid.UUID], *, countdown: float = 0) -> None:
        app = celery_producer()
        ids = [str(job_id) for job_id in job_ids]
        try:
            for start in range(0, len(ids), MESSAGE_BATCH_SIZE):
                app.send_task(
                    task_for_queue(queue),
                    args=[ids[start : start + MESSAGE_BATCH_SIZE]],
                    queue=queue,
                    countdown=countdown or None,
                    retry=False,
                )
        except (OperationalError, redis.RedisError, OSError) as exc:
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
        ids = list(job_ids)
        for start in range(0, len(ids), MESSAGE_BATCH_SIZE):
            chunk = ids[start : start + MESSAGE_BATCH_SIZE]
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
