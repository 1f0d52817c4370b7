"""The general worker: `celery -A sie_worker.celery_app worker` consumes the three ingestion queues."""

from __future__ import annotations

from typing import Any

from sie.core.engine.worker_app import build_worker_app
from sie.core.queues import INGEST_QUEUES, TASK_PROCESS_JOBS


def _load_nlp_models() -> object:
    # Imported in each pool process only: the main process never needs spaCy.
    from sie.core.pipeline.enrich import load_models

    return load_models()


app: Any = build_worker_app(
    name="sie",
    component="worker",
    task_name=TASK_PROCESS_JOBS,
    queues=INGEST_QUEUES,
    load_models=_load_nlp_models,
)
