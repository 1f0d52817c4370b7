"""PostgreSQL stopped and started again (`pg_ctl stop -m fast`, 10 s down, `pg_ctl start`) during an ingest.

While it is down the API answers 503 with Retry-After, never 500; the worker's batches fail with
`ServiceUnavailable` and Celery retries them with backoff. Once it is back every accepted job
completes, each document once.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from sie.core.models import Document
from tests.reliability.stack import Stack, SteadyIngest, assert_no_secret_in_logs, jobs_done
from tests.utils.processes import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DOWN_SECONDS = 10
BACKLOG = 320


def backlog_documents() -> list[dict[str, str]]:
    run = uuid.uuid4().hex
    return [{"text": f"Backlog {index} of {run}: a new bridge opened in Porto."} for index in range(BACKLOG)]


def test_postgres_restarted_during_an_ingest_loses_nothing(stack: Stack) -> None:
    key = stack.make_key()
    with (
        stack.api() as (api_url, _),
        stack.worker() as worker,
        httpx.Client(base_url=api_url, headers=key.headers, timeout=30) as client,
    ):
        with SteadyIngest(api_url, key) as ingest:
            wait_until(lambda: ingest.statuses().get(202, 0) >= 20, timeout=120, what="documents accepted")
            backlog = client.post("/v1/documents/batch", json={"documents": backlog_documents()})
            assert backlog.status_code == 202
            wait_until(
                lambda: stack.job_statuses(key.tenant).get("running", 0) > 0, timeout=60, what="a busy worker"
            )
            outage_start = time.monotonic()
            stack.postgres.stop()
            time.sleep(DOWN_SECONDS / 2)
            health_during = client.get("/health")
            time.sleep(DOWN_SECONDS / 2)
            stack.postgres.start()
            outage_end = time.monotonic()
            time.sleep(10)

        accepted = ingest.accepted_job_ids() | {
            uuid.UUID(item["job_id"]) for item in backlog.json()["results"]
        }
        wait_until(
            lambda: jobs_done(stack, accepted) == len(accepted),
            timeout=300,
            interval=1,
            what=f"all {len(accepted)} accepted jobs done",
        )
        recovered_after = time.monotonic() - outage_end
        # The same worker carried on: its batches were retried, not lost.
        assert worker.poll() is None, "the worker process died"

    with stack.session() as session:
        documents = session.scalar(
            select(func.count()).select_from(Document).where(Document.tenant == key.tenant)
        )
    during = ingest.between(outage_start, outage_end)
    print(
        f"\nanswers: {ingest.statuses()}; during the outage: "
        f"{sorted({outcome.status for outcome in during}, key=str)}; "
        f"{len(accepted)} accepted, all done {recovered_after:.1f} s after PostgreSQL returned"
    )
    assert {outcome.error for outcome in ingest.outcomes} == {None}
    assert set(ingest.statuses()) <= {202, 503}
    assert all(outcome.retry_after for outcome in ingest.outcomes if outcome.status == 503)
    assert any(outcome.status == 503 for outcome in during)
    assert health_during.status_code == 503
    assert health_during.json()["checks"]["database"].startswith("unavailable")
    assert documents == len(accepted)
    assert_no_secret_in_logs(stack, {"API key": key.plain})
