"""The OCR worker as operators run it: a real Celery process on the `ocr` queue, fed by the real API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench.printed_text import encode, render_text_image, words_found
from bench.processes import REPO_ROOT, celery_worker, wait_until
from tests.utils.api import make_key

pytestmark = pytest.mark.slow

CPU_ONLY = {"OCR_DEVICE": "cpu", "OCR_THREADS": "1"}


@pytest.fixture(scope="module")
def live_client() -> Iterator[TestClient]:
    """The API with its real queue: uploads reach Redis and the worker under test."""
    from sie_api.main import app

    with TestClient(app) as client:
        yield client


def log_events(path: Path, event: str) -> list[dict[str, object]]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"{event}"' in line:
            record = json.loads(line)
            if record.get("event") == event:
                events.append(record)
    return events


def test_celery_ocr_worker_reads_uploads_with_one_model_load(live_client: TestClient, tmp_path: Path) -> None:
    key = make_key()
    texts = [["Marble fountain restoration"], ["Porcelain teapot auction"]]
    log_path = tmp_path / "ocr-worker.log"
    with celery_worker(
        app="sie_ocr_worker.celery_app", queues="ocr", concurrency=1, env=CPU_ONLY, log_path=log_path
    ):
        accepted = []
        for lines in texts:
            response = live_client.post(
                "/v1/documents/upload",
                files={"file": ("photo.png", encode(render_text_image(lines), "PNG"))},
                headers=key.headers,
            )
            assert response.status_code == 202
            accepted.append(response.json())

        def all_done() -> bool:
            return all(
                live_client.get(f"/v1/jobs/{body['job_id']}", headers=key.headers).json()["status"] == "done"
                for body in accepted
            )

        wait_until(all_done, timeout=300, interval=1, what="the OCR worker to finish both jobs")

    for lines, body in zip(texts, accepted, strict=True):
        document = live_client.get(f"/v1/documents/{body['document_id']}", headers=key.headers).json()
        assert words_found(" ".join(lines), document["text"]) >= 0.8, document["text"]
    hits = live_client.get("/v1/search", params={"q": "porcelain"}, headers=key.headers).json()["hits"]
    assert [hit["id"] for hit in hits] == [accepted[1]["document_id"]]
    [device] = log_events(log_path, "ocr_device_selected")
    assert device["device"] == "cpu"
    assert len(log_events(log_path, "ocr_model_loaded")) == 1  # one process, two jobs, one load


def test_sie_worker_command_serves_the_ocr_queue(tmp_path: Path) -> None:
    log_path = tmp_path / "sie-worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("sie")), "worker", "--queues", "ocr", "--concurrency", "1"],
            cwd=REPO_ROOT,
            env={**os.environ, **CPU_ONLY},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(
                lambda: all(
                    log_events(log_path, event) for event in ("ocr_worker_ready", "ocr_model_loaded")
                ),
                timeout=240,
                interval=1,
                what="the OCR worker to start and load its model",
            )
            assert process.poll() is None
            [ready] = log_events(log_path, "ocr_worker_ready")
            assert ready["ocr_device"] == "cpu"
            [loaded] = log_events(log_path, "ocr_model_loaded")
            assert loaded["device"] == "cpu"
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
