"""The search backend down: documents are still stored, marked for re-indexing, and indexed once it returns.

The API and the worker use the Meilisearch adapter against the contract-checked fake
(`tests/utils/meili_fake.py`), reached through a TCP gate that is closed (connections refused,
as when the server is down) and opened again on the same port, with the index as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from bench.processes import wait_until
from sie.core.models import Document
from tests.reliability.stack import Stack, TcpGate, assert_no_secret_in_logs
from tests.utils.meili_fake import MeiliFake

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

BEFORE, DURING = 10, 30


@pytest.fixture
def meili() -> Iterator[tuple[MeiliFake, TcpGate]]:
    fake = MeiliFake()
    fake.start()
    gate = TcpGate(int(fake.url.rsplit(":", 1)[1]))
    gate.open()
    try:
        yield fake, gate
    finally:
        gate.close()
        fake.stop()
    assert not fake.violations, "\n".join(fake.violations)


def documents_where(stack: Stack, tenant: str, *conditions: object) -> int:
    with stack.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Document).where(Document.tenant == tenant, *conditions)
            )
            or 0
        )


def post_documents(client: httpx.Client, count: int, topic: str) -> None:
    run = uuid.uuid4().hex[:8]
    documents = [{"text": f"Note {i} ({run}) about the {topic} in Gdansk harbour."} for i in range(count)]
    assert client.post("/v1/documents/batch", json={"documents": documents}).status_code == 202


def test_search_down_stores_marks_and_catches_up(stack: Stack, meili: tuple[MeiliFake, TcpGate]) -> None:
    fake, gate = meili
    stack.extra_env.update(
        {
            "SEARCH_BACKEND": "meilisearch",
            "MEILISEARCH_URL": f"http://127.0.0.1:{gate.port}",
            "MEILISEARCH_KEY": fake.api_key,
        }
    )
    key = stack.make_key()
    indexed = Document.indexed_at.is_not(None)
    with (
        stack.api() as (api_url, _),
        stack.worker(),
        httpx.Client(base_url=api_url, headers=key.headers, timeout=30) as client,
    ):
        post_documents(client, BEFORE, "lighthouse")
        wait_until(lambda: documents_where(stack, key.tenant, indexed) == BEFORE, timeout=120, what="indexed")

        gate.close()
        health_down = client.get("/health")
        search_down = client.get("/v1/search", params={"q": "ferry"})
        post_documents(client, DURING, "ferry")
        wait_until(
            lambda: documents_where(stack, key.tenant, Document.status == "done") == BEFORE + DURING,
            timeout=120,
            what="documents stored while search is down",
        )
        waiting_for_index = documents_where(stack, key.tenant, Document.indexed_at.is_(None))

        gate.open()
        wait_until(
            lambda: documents_where(stack, key.tenant, indexed) == BEFORE + DURING,
            timeout=120,
            what="the re-index sweep to catch up",
        )
        health_up = client.get("/health")
        hits = client.get("/v1/search", params={"q": "ferry", "limit": 100}).json()

    assert health_down.status_code == 503
    assert health_down.json()["checks"]["search"].startswith("unavailable")
    assert health_down.json()["checks"]["database"] == "ok"
    assert search_down.status_code == 503 and search_down.headers["retry-after"]
    # Stored and marked: done, with indexed_at still empty until search came back.
    assert waiting_for_index == DURING
    assert health_up.status_code == 200
    assert hits["total"] == DURING
    assert_no_secret_in_logs(stack, {"API key": key.plain, "Meilisearch key": fake.api_key})
