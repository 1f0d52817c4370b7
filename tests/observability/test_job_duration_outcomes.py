"""`sie_job_duration_seconds{stage="total"}` has every job attempt, labelled by how it ended.

It used to record only the attempts that finished, so the p95 > 300 s alert never saw the
timeouts it exists for: an attempt that TASK_SOFT_TIME_LIMIT ends is `outcome="timeout"`, and
failed, retried, dead-lettered and lost attempts are there too.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from prometheus_client import REGISTRY

from bench.processes import celery_worker, free_port, wait_until
from sie.core.config import settings
from sie.core.engine.ingest import NewDocument, ingest
from sie.core.engine.jobs.claim import ClaimedJob, claim_jobs
from sie.core.engine.jobs.run import run_jobs
from sie.core.engine.jobs.stage import stage
from sie.core.engine.runtime import get_job_queue
from sie.core.pipeline.types import ExtractedText
from tests.observability.test_worker_metrics import sample, scrape
from tests.worker.test_job_runner import RecordingQueue, job_row

SLOW_SECONDS = 6.0


def attempts(outcome: str, stage_name: str = "total") -> float:
    labels = {"stage": stage_name, "outcome": outcome}
    return REGISTRY.get_sample_value("sie_job_duration_seconds_count", labels) or 0.0


def submit() -> uuid.UUID:
    document = NewDocument(text=f"Outcome test {uuid.uuid4()} in Lisbon.")
    [submission] = ingest(RecordingQueue(), tenant=f"t-{uuid.uuid4().hex[:8]}", documents=[document])
    return submission.job_id


def no_text(job: ClaimedJob) -> ExtractedText:
    return ExtractedText(text=" ", content_type="text/plain")


def out_of_time(job: ClaimedJob) -> ExtractedText:
    """What Celery does at TASK_SOFT_TIME_LIMIT: SoftTimeLimitExceeded, raised in the running stage."""
    with stage("fetch"):
        raise SoftTimeLimitExceeded()


def test_an_attempt_the_soft_time_limit_ends_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "task_max_retries", 1)
    job_id = submit()
    before = attempts("timeout"), attempts("timeout", "fetch")
    run_jobs([job_id], queue=RecordingQueue(), reader=out_of_time)
    job = job_row(job_id)
    assert (job.status, job.error_kind) == ("pending", "timeout")  # retried
    run_jobs([job_id], queue=RecordingQueue(), reader=out_of_time)
    assert job_row(job_id).status == "dead"
    # Both attempts count as timeouts, the retried one and the dead-lettered one.
    assert (attempts("timeout"), attempts("timeout", "fetch")) == (before[0] + 2, before[1] + 2)


def test_failed_retried_dead_and_lost_attempts_are_observed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "task_max_retries", 1)
    before = {outcome: attempts(outcome) for outcome in ("failed", "retried", "dead", "lost", "done")}

    def unreachable(job: ClaimedJob) -> ExtractedText:
        raise ConnectionError("the site went away")

    failing = submit()
    run_jobs([failing], queue=RecordingQueue(), reader=unreachable)  # retried
    run_jobs([failing], queue=RecordingQueue(), reader=unreachable)  # dead
    blank = submit()
    run_jobs([blank], queue=RecordingQueue(), reader=no_text)  # failed: nothing to enrich
    lost = submit()
    claim_jobs([lost])  # the worker running it was killed
    run_jobs([lost], queue=RecordingQueue())  # the redelivery: the lost attempt, then done

    after = {outcome: attempts(outcome) for outcome in before}
    assert {outcome: after[outcome] - before[outcome] for outcome in before} == {
        "failed": 1,
        "retried": 1,
        "dead": 1,
        "lost": 1,
        "done": 1,
    }


class SlowPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(SLOW_SECONDS)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"too late")

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def slow_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_a_real_worker_reports_the_attempt_its_soft_time_limit_ended(tmp_path: Path, slow_site: str) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_PORT": str(port),
        "TASK_SOFT_TIME_LIMIT": "2",
        "TASK_TIME_LIMIT": "30",
        "TASK_MAX_RETRIES": "0",
        "SIE_PRELOAD_MODELS": "0",
    }
    [submission] = ingest(
        get_job_queue(), tenant=f"t-{uuid.uuid4().hex[:8]}", documents=[NewDocument(url=f"{slow_site}/page")]
    )
    with celery_worker(concurrency=1, env=env, log_path=tmp_path / "worker.log"):
        wait_until(lambda: job_row(submission.job_id).status == "dead", timeout=120, what="a timeout")

        def timeouts() -> float | None:
            try:
                samples = scrape(port)
            except httpx.HTTPError:
                return None
            return sample(samples, "sie_job_duration_seconds_count", stage="total", outcome="timeout")

        wait_until(lambda: timeouts() == 1, timeout=30, what="the timeout on the worker's /metrics")
        samples = scrape(port)
    job = job_row(submission.job_id)
    assert job.error_kind == "timeout" and "SoftTimeLimitExceeded" in (job.error or "")
    bucket = {"stage": "total", "outcome": "timeout"}
    assert sample(samples, "sie_job_duration_seconds_bucket", **bucket, le="1.0") == 0  # it ran 2 s
    assert sample(samples, "sie_job_duration_seconds_bucket", **bucket, le="5.0") == 1
    assert sample(samples, "sie_job_duration_seconds_count", stage="fetch", outcome="timeout") == 1
    assert sample(samples, "sie_errors_total", component="worker", kind="timeout") == 1
