"""The one recipe for a worker's Celery app; the general and OCR workers differ only in arguments.

Tasks stay thin: they take job ids and call `sie.core.engine.jobs.run.run_jobs`, which is idempotent and
handles each job's failure itself; only an outage around the whole batch (the database is down)
escapes as a `TransientError`, and Celery retries the batch with backoff.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from celery.signals import (
    celeryd_after_setup,
    setup_logging,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)

import sie
from sie.core import metrics
from sie.core.config import settings
from sie.core.engine.jobs.readers import TextReader, read_text
from sie.core.engine.jobs.run import run_jobs
from sie.core.engine.queue import make_celery_app
from sie.core.engine.runtime import get_job_queue
from sie.core.errors import TransientError
from sie.core.logging import configure_logging, get_logger
from sie.core.observability import init_sentry
from sie.core.queues import INGEST_QUEUES, QUEUE_OCR

log = get_logger(__name__)

# Which worker runs each queue's task: named when a worker is started on a queue that is not its own.
_WORKER_OF = {
    QUEUE_OCR: "celery -A sie_ocr_worker.celery_app worker",
    **dict.fromkeys(INGEST_QUEUES, "celery -A sie_worker.celery_app worker"),
}


def build_worker_app(
    *,
    name: str,
    component: str,
    task_name: str,
    queues: Sequence[str],
    load_models: Callable[[], object],
    reader: TextReader = read_text,
    ready_details: Callable[[], dict[str, Any]] = dict,
) -> Any:
    """A Celery app with SIE's settings, JSON logs, metrics, Sentry and one `run_jobs` task.

    `queues` (highest priority first) hold that task's messages: the worker consumes them when
    started without `-Q`, and refuses to start on any other queue (see `refuse_foreign_queues`).
    `load_models` runs in each pool process at start-up (never per task, and never in the parent:
    CUDA does not survive a fork); `SIE_PRELOAD_MODELS=0` defers it to the first task.
    """
    app = make_celery_app(name, queues)
    metrics.set_component(component)
    # The main process serves every pool process's metrics on METRICS_PORT (multiprocess mode).
    connect_worker_metrics_signals()
    _connect_process_signals(component, load_models, ready_details)
    celeryd_after_setup.connect(partial(refuse_foreign_queues, app=app, own=tuple(queues)), weak=False)

    @app.task(
        name=task_name,
        bind=True,
        acks_late=True,
        autoretry_for=(TransientError,),
        retry_backoff=True,
        retry_jitter=True,
        retry_backoff_max=settings.task_retry_backoff_max,
        # Until the outage ends: a batch given up on would leave its jobs pending with no message
        # left to run them. TASK_MAX_RETRIES bounds each job's own failures, inside run_jobs.
        max_retries=None,
    )
    def run_job_batch(self: Any, job_ids: list[str]) -> None:
        run_jobs([uuid.UUID(job_id) for job_id in job_ids], queue=get_job_queue(), reader=reader)

    return app


def refuse_foreign_queues(sender: str, instance: Any, *, app: Any, own: tuple[str, ...], **_: Any) -> None:
    """Stop a worker of `app` told to consume a queue whose task it lacks, before it takes a message.

    Celery discards a message whose task is not registered ("unregistered task"): its jobs would
    stay `pending` with no message left to run them.
    """
    if instance.app is not app:
        return
    foreign = [queue for queue in instance.app.amqp.queues.consume_from if queue not in own]
    if foreign:
        log.error(
            "worker_queue_refused",
            node=sender,
            queues=foreign,
            runs=list(own),
            start_instead={queue: _WORKER_OF.get(queue, "no SIE worker") for queue in foreign},
        )
        raise SystemExit(2)


def _connect_process_signals(
    component: str, load_models: Callable[[], object], ready_details: Callable[[], dict[str, Any]]
) -> None:
    """JSON logs for Celery's own lines, Sentry and the models in each pool process, a ready line."""

    @setup_logging.connect(weak=False)
    def _logging(**_: Any) -> None:
        # Celery's own log lines become JSON too, one event per line.
        configure_logging(settings.log_level)

    @worker_process_init.connect(weak=False)
    def _init_child(**_: Any) -> None:
        init_sentry(component)
        if os.environ.get("SIE_PRELOAD_MODELS", "1") == "1":
            load_models()

    @worker_ready.connect(weak=False)
    def _ready(**_: Any) -> None:
        log.info(f"{component.replace('-', '_')}_ready", version=sie.__version__, **ready_details())


def connect_worker_metrics_signals() -> None:
    """Wire a Celery worker (general or OCR): serve from the main process, forget dead pool processes."""
    worker_init.connect(_serve_worker_metrics, weak=False)
    worker_process_shutdown.connect(_forget_pool_process, weak=False)


def _serve_worker_metrics(**_: object) -> None:
    metrics.start_worker_metrics_server()


def _forget_pool_process(pid: int | None = None, **_: object) -> None:
    if pid is not None:
        metrics.mark_worker_process_dead(pid)
