"""PostgreSQL stopped and started again (`pg_ctl stop -m fast`, 10 s down, `pg_ctl start`) during an ingest.

While it is down the API answers 503 with Retry-After, never 500; the worker's batches fail with
`ServiceUnavailable` and Celery retries them with backoff. Once it is back every accepted job
completes, each document once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sie.core.models import Document
from tests.reliability.stack import (
    Stack,
    assert_clear_503s_only,
    assert_no_secret_in_logs,
    ingest_through_outage,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DOWN_SECONDS = 10


def test_postgres_restarted_during_an_ingest_loses_nothing(stack: Stack) -> None:
    key = stack.make_key()
    with stack.api() as (api_url, _), stack.worker() as worker:
        outage = ingest_through_outage(
            stack, api_url, key, stack.postgres, seconds=DOWN_SECONDS, done_timeout=300
        )
        # The same worker carried on: its batches were retried, not lost.
        assert worker.poll() is None, "the worker process died"

    with stack.session() as session:
        documents = session.scalar(
            select(func.count()).select_from(Document).where(Document.tenant == key.tenant)
        )
    print(f"\n{outage.summary('PostgreSQL')}")
    assert_clear_503s_only(outage, "database")
    assert documents == len(outage.accepted)
    assert_no_secret_in_logs(stack, {"API key": key.plain})
