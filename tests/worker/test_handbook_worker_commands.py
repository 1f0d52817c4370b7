"""The handbook's worker command (§2.2), as written, for both workers: no job is lost.

`celery -A app.workers.celery_app worker --loglevel=info --concurrency=4` has no `-Q`. Each
worker app then consumes only its own queues: the general worker the ingestion queues, the OCR
worker `ocr`. A message whose task the worker lacks was discarded as an "unregistered task", and
its job stayed `pending` for ever. Told to consume such a queue, a worker refuses to start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from bench.printed_text import encode, render_text_image
from bench.processes import REPO_ROOT, wait_until
from sie.core.engine.backlog import queued_job_ids
from sie.core.queues import ALL_QUEUES, QUEUE_OCR
from tests.utils import api

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CELERY = str(Path(sys.executable).with_name("celery"))
# The handbook's line, with our module path for `app.workers.celery_app`.
HANDBOOK_ARGS = ["worker", "--loglevel=info", "--concurrency=4"]
GENERAL_APP = "sie_worker.celery_app"
OCR_APP = "sie_ocr_worker.celery_app"
# Not on the command line: models load at each process's first job (8 idle processes stay small),
# no metrics port (two workers on one host), OCR on one CPU thread.
WORKER_ENV = {"SIE_PRELOAD_MODELS": "0", "METRICS_PORT": "0", "OCR_DEVICE": "cpu", "OCR_THREADS": "1"}


def log_events(path: Path, event: str) -> list[dict[str, object]]:
    lines = path.read_text(errors="replace").splitlines()
    records = (json.loads(line) for line in lines if line.startswith("{"))
    return [record for record in records if record.get("event") == event]


@contextmanager
def handbook_worker(app: str, log_path: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A <app> worker --loglevel=info --concurrency=4`, until it says it is ready."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [CELERY, "-A", app, *HANDBOOK_ARGS, *extra],
            cwd=REPO_ROOT,
            env={**os.environ, **WORKER_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready_event = "ocr_worker_ready" if app == OCR_APP else "worker_ready"
    try:
        if not extra:
            wait_until(lambda: log_events(log_path, ready_event), timeout=180, interval=1, what=app)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def live_client() -> Iterator[TestClient]:
    """The API with its real queue: documents reach Redis and the workers under test."""
    from sie_api.main import app

    with TestClient(app) as client:
        yield client


def submit_texts(client: TestClient, key: api.TestKey, count: int, tag: str) -> list[str]:
    job_ids = []
    for n in range(count):
        body = {"text": f"Handbook worker {tag} {n}: Ada Lovelace wrote the first program in London."}
        response = client.post("/v1/documents", json=body, headers=key.headers)
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["job_id"])
    return job_ids


def submit_image(client: TestClient, key: api.TestKey) -> str:
    image = encode(render_text_image(["Harbour lighthouse"]), "PNG")
    response = client.post("/v1/documents/upload", files={"file": ("sign.png", image)}, headers=key.headers)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def statuses(client: TestClient, key: api.TestKey, job_ids: list[str]) -> list[str]:
    return [client.get(f"/v1/jobs/{job_id}", headers=key.headers).json()["status"] for job_id in job_ids]


def in_redis(job_ids: list[str]) -> set[str]:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        return queued_job_ids(client, ALL_QUEUES) & set(job_ids)
    finally:
        client.close()


def test_both_workers_started_as_the_handbook_says_finish_every_job(
    live_client: TestClient, tmp_path: Path
) -> None:
    key = api.make_key()
    general_log, ocr_log = tmp_path / "worker.log", tmp_path / "ocr-worker.log"

    # The general worker alone: it runs its jobs and leaves the OCR job's message where it is.
    with handbook_worker(GENERAL_APP, general_log):
        ocr_job = submit_image(live_client, key)
        first = submit_texts(live_client, key, 6, "first")
        wait_until(lambda: set(statuses(live_client, key, first)) == {"done"}, timeout=300, what="text jobs")
        assert statuses(live_client, key, [ocr_job]) == ["pending"]
        assert in_redis([ocr_job]) == {ocr_job}, "the general worker took the OCR job's message"

    # The OCR worker alone: it runs the OCR job and leaves the text jobs' messages.
    with handbook_worker(OCR_APP, ocr_log):
        second = submit_texts(live_client, key, 6, "second")
        wait_until(lambda: statuses(live_client, key, [ocr_job]) == ["done"], timeout=300, what="the OCR job")
        assert set(statuses(live_client, key, second)) == {"pending"}
        assert in_redis(second) == set(second), "the OCR worker took text jobs' messages"

        # Both, side by side: every job ends done.
        with handbook_worker(GENERAL_APP, general_log):
            third = [submit_image(live_client, key), *submit_texts(live_client, key, 4, "third")]
            every_job = [ocr_job, *first, *second, *third]
            wait_until(
                lambda: set(statuses(live_client, key, every_job)) == {"done"},
                timeout=300,
                interval=1,
                what="every job done",
            )
    for path in (general_log, ocr_log):
        assert "unregistered task" not in path.read_text(errors="replace").lower()


@pytest.mark.parametrize(("app", "foreign"), [(GENERAL_APP, QUEUE_OCR), (OCR_APP, "ingestion")])
def test_a_worker_told_to_consume_another_workers_queue_refuses_to_start(
    app: str, foreign: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    with handbook_worker(app, log_path, "-Q", foreign) as process:
        assert process.wait(timeout=180) == 2
    [refused] = log_events(log_path, "worker_queue_refused")
    assert refused["queues"] == [foreign]
    other = OCR_APP if foreign == QUEUE_OCR else GENERAL_APP
    assert refused["start_instead"] == {foreign: f"celery -A {other} worker"}
    assert not log_events(log_path, "worker_ready") and not log_events(log_path, "ocr_worker_ready")
