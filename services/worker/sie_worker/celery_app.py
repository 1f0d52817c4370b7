"""The Celery app: `celery -A sie_worker.celery_app worker -Q ingestion.high,ingestion,ingestion.low`.

Tasks stay thin: they take job ids and call `sie.core.jobs.run_jobs`, which is idempotent.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from celery.signals import setup_logging, worker_process_init, worker_ready

import sie
from sie.core.config import settings
from sie.core.errors import TransientError
from sie.core.jobs import run_jobs
from sie.core.logging import configure_logging, get_logger
from sie.core.metrics import connect_worker_metrics_signals
from sie.core.observability import init_sentry
from sie.core.queue import TASK_PROCESS_JOBS, get_job_queue, make_celery_app

log = get_logger(__name__)
app: Any = make_celery_app("sie")
# The main process serves every pool process's metrics on METRICS_PORT (multiprocess mode).
connect_worker_metrics_signals()


@setup_logging.connect
def _logging(**_: Any) -> None:
    # Celery's own log lines become JSON too, one event per line.
    configure_logging(settings.log_level)


@worker_process_init.connect
def _init_child(**_: Any) -> None:
    init_sentry("worker")
    if os.environ.get("SIE_PRELOAD_MODELS", "1") == "1":
        from sie.core.pipeline.enrich import load_models

        load_models()


@worker_ready.connect
def _ready(**_: Any) -> None:
    log.info("worker_ready", version=sie.__version__)


@app.task(
    name=TASK_PROCESS_JOBS,
    bind=True,
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=True,
    retry_jitter=True,
    retry_backoff_max=settings.task_retry_backoff_max,
    max_retries=settings.task_max_retries,
)
def process_jobs(self: Any, job_ids: list[str]) -> None:
    """Per-job failures are handled inside; only an outage around the whole batch retries it."""
    run_jobs([uuid.UUID(job_id) for job_id in job_ids], queue=get_job_queue())
