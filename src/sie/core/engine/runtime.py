"""The queue a process sends jobs to, chosen by the code that assembles the process (API, CLI,
scheduler, workers, demo): jobs run on this process's thread pool in local mode, else go to Celery.

One queue per process: `get_job_queue` builds it on first use and returns the same one after.
"""

from __future__ import annotations

import uuid
from functools import cache

from sie.core.config import settings
from sie.core.engine.jobs.run import run_jobs_in_process
from sie.core.engine.queue import CeleryQueue, InProcessQueue
from sie.core.queues import JobQueue


@cache
def get_job_queue() -> JobQueue:
    if settings.local_mode:
        return InProcessQueue(_run_here)
    return CeleryQueue()


def _run_here(queue_name: str, job_ids: list[uuid.UUID]) -> None:
    # Retries and OCR hand-overs of a job run here go back to this process's pool.
    run_jobs_in_process(get_job_queue(), queue_name, job_ids)
