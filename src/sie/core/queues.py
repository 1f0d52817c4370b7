"""The queue contract: queue names, task names, routing and the `JobQueue` interface.

Every process agrees on these; which `JobQueue` implementation a process uses (Celery on Redis, or
the in-process pool of local mode) is chosen by the code that assembles that process
(`sie.core.engine.runtime`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

QUEUE_HIGH = "ingestion.high"
QUEUE_NORMAL = "ingestion"
QUEUE_LOW = "ingestion.low"
QUEUE_OCR = "ocr"
INGEST_QUEUES = (QUEUE_HIGH, QUEUE_NORMAL, QUEUE_LOW)
ALL_QUEUES = (*INGEST_QUEUES, QUEUE_OCR)
DEAD_LETTER_LIST = "dead_letter"
# Present while Redis still holds what we enqueued; gone after a Redis restart without persistence.
QUEUE_EPOCH_KEY = "sie:queue-epoch"

TASK_PROCESS_JOBS = "sie.process_jobs"
TASK_OCR_JOBS = "sie.ocr_jobs"

PRIORITY_QUEUES = {"high": QUEUE_HIGH, "normal": QUEUE_NORMAL, "low": QUEUE_LOW}


def queue_for(*, priority: str, kind: str) -> str:
    return QUEUE_OCR if kind == "ocr" else PRIORITY_QUEUES[priority]


def task_for_queue(queue: str) -> str:
    return TASK_OCR_JOBS if queue == QUEUE_OCR else TASK_PROCESS_JOBS


class JobQueue(Protocol):
    name: str

    def enqueue(self, queue: str, job_ids: Sequence[uuid.UUID], *, countdown: float = 0) -> None:
        """Hand jobs to workers; raises `ServiceUnavailable` when the broker is down."""

    def check(self) -> None: ...
