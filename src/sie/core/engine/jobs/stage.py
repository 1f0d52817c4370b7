"""The stage timer: each pipeline stage's time goes into `sie_job_duration_seconds{stage, outcome}`."""

from __future__ import annotations

import time

from celery.exceptions import SoftTimeLimitExceeded

from sie.core import metrics

# The error kind and `outcome` of an attempt that TASK_SOFT_TIME_LIMIT ended.
TIMEOUT_KIND = "timeout"


class stage:
    """Times one pipeline stage into `sie_job_duration_seconds{stage, outcome}`: ok, error or timeout."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            outcome = "ok"
        else:
            outcome = TIMEOUT_KIND if issubclass(exc_type, SoftTimeLimitExceeded) else "error"
        metrics.JOB_DURATION.labels(stage=self.name, outcome=outcome).observe(
            time.perf_counter() - self.start
        )
