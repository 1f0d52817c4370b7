"""Workers killed with SIGKILL mid-job, ten times during a 1,000-document ingest: nothing lost, nothing twice.

Nine kills hit every pool process of the worker at once (Celery requeues their messages:
`acks_late` + `reject_on_worker_lost`); one kills the whole worker, main process and pool, the way
a node failure would. Its unacknowledged messages come back after CELERY_VISIBILITY_TIMEOUT (10 s
here) to the worker started in its place. Each kill waits for a job that started after the
previous one, and the test checks that one of the jobs running at that moment was run again.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from bench.processes import child_pids, wait_until
from sie.core.models import Document, DocumentEntity, Job
from tests.reliability.stack import Stack, kill_process_group

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DOCUMENTS = 1000
KILLS = 10
WHOLE_WORKER_KILL_AT = 5
# Killing every pool process at once can hit one batch several times in a row; a job whose worker
# is lost more than TASK_MAX_RETRIES times is dead-lettered (test_ocr_worker_crash.py), which these
# external kills must not trigger.
WORKER_ENV = {"CELERY_VISIBILITY_TIMEOUT": "10", "TASK_MAX_RETRIES": "20"}


def article(index: int, run: str) -> str:
    """About 120 words, so a batch of 16 keeps a pool process busy long enough to be killed in it."""
    people = ("Maria Lopez", "James Carter", "Aiko Tanaka", "Lars Nilsson", "Priya Sharma")
    places = ("Lisbon", "Nairobi", "Osaka", "Toronto", "Hamburg")
    person, place = people[index % 5], places[(index // 5) % 5]
    filler = (
        "Officials said the plan would be reviewed again in the spring after further consultation. "
        "The announcement followed several months of negotiations between the parties involved. "
        "Analysts expect the figures to be revised once the full data for the period is available. "
    )
    return f"Report {index} of run {run}: {person} opened a new library in {place} on Monday. " + filler * 3


def jobs_running_since(stack: Stack, tenant: str, since: datetime) -> set[uuid.UUID]:
    with stack.session() as session:
        return set(
            session.scalars(
                select(Job.id).where(Job.tenant == tenant, Job.status == "running", Job.started_at > since)
            )
        )


def test_ten_sigkills_during_a_thousand_document_ingest_lose_and_duplicate_nothing(stack: Stack) -> None:
    key = stack.make_key()
    run = uuid.uuid4().hex[:8]
    interrupted: list[set[uuid.UUID]] = []
    with ExitStack() as running, httpx.Client(timeout=60) as client:
        api_url, _ = running.enter_context(stack.api())
        worker = running.enter_context(stack.worker("worker-1", env=WORKER_ENV))
        for start in range(0, DOCUMENTS, 100):
            batch = [{"text": article(i, run), "source": "kills"} for i in range(start, start + 100)]
            response = client.post(
                f"{api_url}/v1/documents/batch", json={"documents": batch}, headers=key.headers
            )
            assert response.status_code == 202, response.text

        since = datetime.now(UTC)
        for kill in range(1, KILLS + 1):
            wait_until(
                lambda since=since: bool(jobs_running_since(stack, key.tenant, since)),
                timeout=180,
                what=f"a job started before kill {kill}",
            )
            interrupted.append(jobs_running_since(stack, key.tenant, since))
            if kill == WHOLE_WORKER_KILL_AT:
                kill_process_group(worker)
                worker = running.enter_context(stack.worker(f"worker-{kill}", env=WORKER_ENV))
            else:
                pool = child_pids(worker.pid)
                assert pool, "the worker has no pool processes"
                for pid in pool:
                    os.kill(pid, signal.SIGKILL)
            since = datetime.now(UTC)

        started = time.monotonic()
        wait_until(
            lambda: stack.job_statuses(key.tenant).get("done", 0) == DOCUMENTS,
            timeout=600,
            interval=1,
            what=f"all {DOCUMENTS} jobs done",
        )
        drained_after_last_kill = time.monotonic() - started

    with stack.session() as session:
        documents = session.scalars(select(Document).where(Document.tenant == key.tenant)).all()
        jobs = session.scalars(select(Job).where(Job.tenant == key.tenant)).all()
        entity_rows = session.scalar(
            select(func.count()).select_from(DocumentEntity).where(DocumentEntity.tenant == key.tenant)
        )
    attempts = {job.id: job.attempts for job in jobs}
    completions = Counter(
        event["job_id"]
        for log in stack.log_dir.glob("worker-*.log")
        for event in stack.log_events(log.stem)
        if event.get("event") == "job_completed"
    )
    print(
        f"\n{KILLS} kills: attempts per job {dict(sorted(Counter(attempts.values()).items()))}; "
        f"all done {drained_after_last_kill:.0f} s after the last kill"
    )

    # Every accepted document is done, once: one row each, one job each, entities written once.
    assert len(documents) == DOCUMENTS and {document.status for document in documents} == {"done"}
    assert len({document.content_hash for document in documents}) == DOCUMENTS
    assert len(jobs) == DOCUMENTS and {job.status for job in jobs} == {"done"}
    assert entity_rows == sum(len(document.entities) for document in documents)
    # No job completed twice (a process killed right after its commit logs no completion at all).
    assert max(completions.values()) == 1
    assert len(completions) >= DOCUMENTS - KILLS * 16
    # Each kill landed mid-job: some job running at that moment had to be run again.
    assert all(any(attempts[job_id] > 1 for job_id in running) for running in interrupted)
