"""End to end on the real services: HTTP → PostgreSQL → Redis → Celery worker → search."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import func, select

from bench.processes import api_server, celery_worker, child_pids, wait_until
from sie.core.db import session_scope
from sie.core.models import Document, DocumentEntity, Job
from tests.utils.api import make_key
from tests.utils.corpus import known_documents

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_server(log_path=tmp_path_factory.mktemp("api") / "api.log") as url:
        yield url


def job_statuses(tenant: str) -> dict[str, int]:
    with session_scope() as session:
        rows = session.execute(
            select(Job.status, func.count()).where(Job.tenant == tenant).group_by(Job.status)
        ).all()
    return {status: count for status, count in rows}


def test_fifty_documents_reach_done_with_known_entities_and_sentiment(api_url: str, tmp_path) -> None:
    key = make_key()
    documents = known_documents(50, tag=f"-{uuid.uuid4().hex[:6]}")
    with (
        celery_worker(log_path=tmp_path / "worker.log"),
        httpx.Client(base_url=api_url, timeout=30) as client,
    ):
        accepted = [
            client.post("/v1/documents", json={"text": document.text, "source": "e2e"}, headers=key.headers)
            for document in documents
        ]
        assert [response.status_code for response in accepted] == [202] * 50
        wait_until(lambda: job_statuses(key.tenant).get("done") == 50, timeout=180, what="50 jobs done")

        for document, response in zip(documents, accepted, strict=True):
            body = client.get(f"/v1/documents/{response.json()['document_id']}", headers=key.headers).json()
            entities = {(entity["text"], entity["label"]) for entity in body["entities"]}
            assert {
                (document.person, "PERSON"),
                (document.organisation, "ORG"),
                (document.city, "GPE"),
            } <= entities
            assert body["sentiment"]["label"] == document.sentiment
            job = client.get(f"/v1/jobs/{response.json()['job_id']}", headers=key.headers).json()
            assert job["status"] == "done" and job["attempts"] == 1

        results = client.get("/v1/search", params={"q": "delegation Tokyo"}, headers=key.headers).json()
        tokyo = [d for d in documents if d.city == "Tokyo"]
        assert results["total"] == len(tokyo) and all("<mark>" in hit["snippet"] for hit in results["hits"])
        filtered = client.get(
            "/v1/search",
            params={"q": "delegation", "entity": "Bill Gates", "sentiment": "negative", "limit": 100},
            headers=key.headers,
        ).json()
        expected = [d for d in documents if d.person == "Bill Gates" and d.sentiment == "negative"]
        assert filtered["total"] == len(expected) > 0

        sentiment = client.get("/v1/insights/sentiment", headers=key.headers).json()
        assert sentiment["totals"] == {"positive": 17, "negative": 17, "neutral": 16, "unscored": 0}
        top = client.get("/v1/insights/entities", headers=key.headers).json()["top"]
        assert {entry["text"] for entry in top[:15]} >= {"Paris", "Google", "Bill Gates"}

        stranger = make_key()
        assert (
            client.get("/v1/search", params={"q": "delegation"}, headers=stranger.headers).json()["total"]
            == 0
        )
        assert client.get("/v1/insights/sentiment", headers=stranger.headers).json()["totals"] == {
            "positive": 0,
            "neutral": 0,
            "negative": 0,
            "unscored": 0,
        }


class SlowHandler(BaseHTTPRequestHandler):
    """Each page takes a while, so a worker can be killed while it is mid-job."""

    delay = 1.5

    def do_GET(self) -> None:
        time.sleep(self.delay)
        paragraph = f"<p>Slow page {self.path} about Vienna and Siemens.</p>"
        payload = f"<html><body><article>{paragraph}</article></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def slow_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_worker_killed_mid_job_loses_and_duplicates_nothing(api_url: str, slow_site: str, tmp_path) -> None:
    key = make_key()
    urls = [f"{slow_site}/page-{i}" for i in range(12)]
    with (
        celery_worker(log_path=tmp_path / "worker.log") as worker,
        httpx.Client(base_url=api_url, timeout=30) as client,
    ):
        for url in urls:
            assert client.post("/v1/documents", json={"url": url}, headers=key.headers).status_code == 202
        wait_until(lambda: job_statuses(key.tenant).get("running", 0) >= 1, timeout=60, what="a running job")
        kills = 0
        for _ in range(3):
            wait_until(
                lambda: job_statuses(key.tenant).get("running", 0) >= 1, timeout=60, what="a running job"
            )
            pool = child_pids(worker.pid)
            assert pool, "the worker has no pool processes"
            # Every pool process: whichever holds the running job dies with it.
            for pid in pool:
                os.kill(pid, signal.SIGKILL)
            kills += 1
            time.sleep(0.5)
        wait_until(
            lambda: job_statuses(key.tenant).get("done") == len(urls), timeout=180, what="all jobs done"
        )

    with session_scope() as session:
        documents = session.scalars(select(Document).where(Document.tenant == key.tenant)).all()
        entity_rows = session.scalar(
            select(func.count()).select_from(DocumentEntity).where(DocumentEntity.tenant == key.tenant)
        )
        retried = session.scalar(
            select(func.count()).select_from(Job).where(Job.tenant == key.tenant, Job.attempts > 1)
        )
    assert kills == 3
    assert len(documents) == len(urls) and {d.status for d in documents} == {"done"}
    assert sorted(d.url for d in documents) == sorted(urls)
    assert entity_rows == sum(len(d.entities) for d in documents)  # no entity written twice
    assert retried >= 1  # the killed jobs really were run again
