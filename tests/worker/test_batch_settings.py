"""The worker batch sizes are settings: WORKER_BATCH_SIZE (jobs per message) and NLP_BATCH_SIZE
(texts per spaCy batch), validated at start-up like every other setting."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import redis

from bench.processes import REPO_ROOT
from sie.core.config import settings
from sie.core.engine.backlog import queued_job_ids
from sie.core.engine.ingest import NewDocument
from sie.core.engine.jobs import run
from sie.core.engine.queue import CeleryQueue
from sie.core.pipeline.enrich import enrich_batch
from sie.core.queues import QUEUE_LOW
from tests.worker.test_job_runner import RecordingQueue, submit, tenant


@pytest.fixture
def low_queue(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    redis_client.delete(QUEUE_LOW)
    yield redis_client
    redis_client.delete(QUEUE_LOW)


def test_worker_batch_size_sets_the_jobs_per_message(
    low_queue: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "worker_batch_size", 4)
    job_ids = [uuid.uuid4() for _ in range(10)]
    CeleryQueue().enqueue(QUEUE_LOW, job_ids)
    messages = low_queue.lrange(QUEUE_LOW, 0, -1)
    assert len(messages) == 3  # 4 + 4 + 2
    assert queued_job_ids(low_queue, [QUEUE_LOW]) == {str(job_id) for job_id in job_ids}


def test_nlp_batch_size_reaches_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "nlp_batch_size", 3)
    seen: list[int] = []

    def recording_enrich_batch(texts: Sequence[str], **options: Any) -> Any:
        seen.append(options["batch_size"])
        return enrich_batch(texts, **options)

    monkeypatch.setattr(run, "enrich_batch", recording_enrich_batch)
    [job_id] = submit(tenant(), NewDocument(text=f"Batch size {uuid.uuid4()} in Oslo."))
    run.run_jobs([job_id], queue=RecordingQueue())
    assert seen == [3]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("WORKER_BATCH_SIZE", "0"), ("WORKER_BATCH_SIZE", "many"), ("NLP_BATCH_SIZE", "-1")],
)
def test_a_bad_batch_size_stops_start_up_naming_the_variable(variable: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sie.core.config"],
        cwd=REPO_ROOT,
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert variable in result.stderr and "Traceback" not in result.stderr
