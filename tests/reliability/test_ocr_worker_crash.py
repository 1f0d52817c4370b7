"""An OCR worker killed mid-job (SIGKILL, as the OOM killer does), again and again.

Two OCR workers serve the `ocr` queue. Each time the job is running, the pool process running it
is killed: Celery requeues the message and the job runs again, on either worker. The attempt that
finds the job still `running` past TASK_MAX_RETRIES (2 here) dead-letters it with the reason.
All the while a general worker drains the ingestion queue as if nothing happened.
"""

from __future__ import annotations

import os
import signal
import uuid
from contextlib import ExitStack

import httpx
import pytest
from sqlalchemy import select

from bench.printed_text import encode, render_text_image
from bench.processes import child_pids, wait_until
from sie.core.models import DeadLetter, Job
from tests.reliability.stack import Stack, assert_no_secret_in_logs, jobs_done

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

MAX_RETRIES = 2
OCR_ENV = {"OCR_DEVICE": "cpu", "OCR_THREADS": "1", "TASK_MAX_RETRIES": str(MAX_RETRIES)}
OCR_WORKERS = ("ocr-a", "ocr-b")
GENERAL_DOCUMENTS = 60


def job_row(stack: Stack, job_id: uuid.UUID) -> Job:
    with stack.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def worker_running(stack: Stack, job_id: uuid.UUID, attempt: int) -> str | None:
    """Which OCR worker logged the start of this attempt of the job, if one has yet."""
    for name in OCR_WORKERS:
        for event in stack.log_events(name):
            started = event.get("event") == "job_started" and event.get("job_id") == str(job_id)
            if started and event.get("attempt") == attempt:
                return name
    return None


def test_ocr_worker_killed_mid_job_retries_elsewhere_then_dead_letters(stack: Stack) -> None:
    key = stack.make_key()
    scan = encode(render_text_image(["Harbour inspection report", "Berth 7 cleared for cargo"]), "PNG")
    attempts_on: dict[int, str] = {}
    with ExitStack() as running, httpx.Client(timeout=60) as client:
        api_url, _ = running.enter_context(stack.api())
        ocr_workers = {
            name: running.enter_context(
                stack.worker(name, env=OCR_ENV, queues="ocr", concurrency=1, app="sie_ocr_worker.celery_app")
            )
            for name in OCR_WORKERS
        }
        running.enter_context(stack.worker("general"))
        upload = client.post(
            f"{api_url}/v1/documents/upload", files={"file": ("scan.png", scan)}, headers=key.headers
        )
        assert upload.status_code == 202, upload.text
        ocr_job = uuid.UUID(upload.json()["job_id"])
        general = client.post(
            f"{api_url}/v1/documents/batch",
            json={
                "documents": [
                    {"text": f"Cargo note {i} ({uuid.uuid4().hex}) from the Rotterdam terminal."}
                    for i in range(GENERAL_DOCUMENTS)
                ]
            },
            headers=key.headers,
        )
        general_jobs = {uuid.UUID(item["job_id"]) for item in general.json()["results"]}

        for attempt in range(1, MAX_RETRIES + 2):
            wait_until(
                lambda attempt=attempt: worker_running(stack, ocr_job, attempt) is not None,
                timeout=300,
                interval=0.1,
                what=f"OCR attempt {attempt} to start",
            )
            name = worker_running(stack, ocr_job, attempt)
            assert name is not None
            attempts_on[attempt] = name
            for pid in child_pids(ocr_workers[name].pid):
                os.kill(pid, signal.SIGKILL)

        wait_until(
            lambda: job_row(stack, ocr_job).status == "dead", timeout=300, what="the OCR job dead-lettered"
        )
        wait_until(
            lambda: jobs_done(stack, general_jobs) == GENERAL_DOCUMENTS, timeout=300, what="the general queue"
        )
        wait_until(
            lambda: stack.redis.client().llen("dead_letter") == 1, timeout=30, what="the dead_letter list"
        )
        job_view = client.get(f"{api_url}/v1/jobs/{ocr_job}", headers=key.headers).json()

    with stack.session() as session:
        letter = session.scalars(select(DeadLetter).where(DeadLetter.job_id == ocr_job)).one()
    print(f"\nattempts ran on {attempts_on}; dead letter: {letter.error}")
    assert len(attempts_on) == MAX_RETRIES + 1
    assert len(set(attempts_on.values())) == 2, "every attempt ran on the same worker"
    assert letter.error_kind == "worker_lost" and letter.queue == "ocr"
    assert f"lost {MAX_RETRIES + 1} times" in letter.error
    assert job_view["status"] == "dead" and "killed, or out of memory" in job_view["error"]
    assert_no_secret_in_logs(stack, {"API key": key.plain})
