"""The stage timer: each pipeline stage's time goes into `sie_job_duration_seconds{stage, outcome}`."""

from __future__ import annotations

import time

from sie.core import metrics


class stage:
    """Times one pipeline stage into `sie_job_duration_seconds{stage, outcome}`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        outcome = "ok" if exc_type is None else "error"
        metrics.JOB_DURATION.labels(stage=self.name, outcome=outcome).observe(
            time.perf_counter() - self.start
        )
