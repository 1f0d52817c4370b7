"""A Celery app for the worker-metrics tests: SIE's Celery settings and metrics wiring, no pipeline.

`celery -A tests.observability.metrics_probe_app worker` serves /metrics like the real workers do;
its task counts into real SIE metrics and records which pool process ran it. Each task waits for
`RELEASE_KEY`, so a test can hold messages reserved and running.
"""

from __future__ import annotations

import os
import time

from sie.core import metrics
from sie.core.engine.queue import make_celery_app
from sie.core.engine.worker_app import connect_worker_metrics_signals
from sie.core.queues import TASK_PROCESS_JOBS
from sie.core.redis import redis_client

RELEASE_KEY = "sie-test:release"
PIDS_KEY = "sie-test:task-pids"
PROBE_SOURCE = "metrics-probe"
MAX_WAIT_SECONDS = 60

app = make_celery_app("sie-metrics-probe")
connect_worker_metrics_signals()


@app.task(name=TASK_PROCESS_JOBS, acks_late=True)
def process_jobs(job_ids: list[str]) -> None:
    client = redis_client()
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while not client.exists(RELEASE_KEY) and time.monotonic() < deadline:
        time.sleep(0.05)
    metrics.DOCUMENTS.labels(status="done", source=PROBE_SOURCE).inc(len(job_ids))
    metrics.JOB_DURATION.labels(stage="total", outcome="done").observe(0.01)
    client.sadd(PIDS_KEY, os.getpid())
