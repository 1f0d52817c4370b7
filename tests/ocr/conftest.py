"""OCR tests: uploads go through the real API with the broker replaced by a recording queue, and the
jobs then run in this process with the OCR worker's reader (real EasyOCR on the CPU)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench.scratch import ScratchServices
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.jobs.ocr_reader import read_text_with_ocr
from sie.core.engine.jobs.readers import read_text
from sie.core.engine.jobs.run import run_jobs
from sie.core.models import Job
from sie.core.queues import QUEUE_OCR
from tests.utils.api import TestKey, api_client_with_queue, make_key
from tests.worker.test_job_runner import RecordingQueue


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


@pytest.fixture(scope="session", autouse=True)
def _cpu_only() -> Iterator[None]:
    # The tests prove the CPU path; a GPU on the test machine must not change what they measure.
    # One torch thread: test machines are shared, and threads waiting on busy cores are far slower.
    previous = settings.ocr_device, settings.ocr_threads
    settings.ocr_device, settings.ocr_threads = "cpu", 1
    yield
    settings.ocr_device, settings.ocr_threads = previous


@pytest.fixture(scope="module")
def recording_queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture(scope="module")
def client(recording_queue: RecordingQueue) -> Iterator[TestClient]:
    with api_client_with_queue(recording_queue) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def key() -> TestKey:
    return make_key()


@dataclass
class Uploader:
    """Uploads a file through the API and runs its job the way the workers would."""

    client: TestClient
    key: TestKey
    queue: RecordingQueue

    def upload(self, data: bytes, filename: str, **form: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/documents/upload", files={"file": (filename, data)}, data=form, headers=self.key.headers
        )
        assert response.status_code == 202, response.text
        return response.json()

    def process(self, accepted: dict[str, Any]) -> None:
        """Run the job: on the general worker first if it was queued there, then on the OCR worker
        if the general worker routed it to the `ocr` queue (as a real deployment would)."""
        job_id = uuid.UUID(accepted["job_id"])
        if job_queue(job_id) != QUEUE_OCR:
            run_jobs([job_id], queue=self.queue, reader=read_text)
        if job_queue(job_id) == QUEUE_OCR:
            run_jobs([job_id], queue=self.queue, reader=read_text_with_ocr)

    def job(self, accepted: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get(f"/v1/jobs/{accepted['job_id']}", headers=self.key.headers)
        assert response.status_code == 200
        return response.json()

    def document(self, accepted: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get(f"/v1/documents/{accepted['document_id']}", headers=self.key.headers)
        assert response.status_code == 200
        return response.json()

    def search(self, q: str) -> list[str]:
        response = self.client.get("/v1/search", params={"q": q}, headers=self.key.headers)
        assert response.status_code == 200
        return [hit["id"] for hit in response.json()["hits"]]


@pytest.fixture(scope="module")
def uploader(client: TestClient, key: TestKey, recording_queue: RecordingQueue) -> Uploader:
    return Uploader(client, key, recording_queue)


def job_queue(job_id: uuid.UUID) -> str:
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.queue
