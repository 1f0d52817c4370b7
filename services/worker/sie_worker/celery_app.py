"""The general worker: `celery -A sie_worker.celery_app worker -Q ingestion.high,ingestion,ingestion.low`."""

from __future__ import annotations

from typing import Any

from sie.core.engine.worker_app import build_worker_app
from sie.core.queues import TASK_PROCESS_JOBS


def _load_nlp_models() -> object:
    # Imported in each pool process only: the main process never needs spaCy.
    from sie.core.pipeline.enrich import load_models

    return load_models()


app: Any = build_worker_app(
    name="sie", component="worker", task_name=TASK_PROCESS_JOBS, load_models=_load_nlp_models
)
