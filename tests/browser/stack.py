"""What the console's browser tests run against: the API and a Celery worker as real processes on
the run's PostgreSQL and Redis, a loopback site (a feed, its articles, a page that fails until told
otherwise), and one tenant's seeded documents whose entities and sentiment are known in advance."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

import httpx
from sqlalchemy import func, select

from bench.processes import wait_until
from sie.core.db import session_scope
from sie.core.models import Document, Job
from tests.utils.api import TestKey
from tests.utils.corpus import KnownDocument, known_documents
from tests.utils.site import QuietHandler

SEED_SOURCE = "console-seed"
SEED_COUNT = 15
FEED_ITEMS = 2


class Site(QuietHandler):
    """`/feed.xml` (an RSS feed of `FEED_ITEMS` articles), `/articles/<n>`, `/flaky`: 503 until
    `flaky_recovered` is set (a job fetching it dies, and succeeds when replayed after that), and
    `/gone`: 503 for good (its job dies, to be discarded)."""

    flaky_recovered = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/feed.xml":
            self.send_body(200, "application/rss+xml", self._feed())
        elif self.path.startswith("/articles/"):
            number = self.path.rsplit("/", 1)[-1]
            story = "The harbour of Lisbon reopened after the storm; the fleet sailed out at dawn."
            self.send_body(
                200, "text/html", f"<html><body><h1>Harbour news {number}</h1><p>{story}</p></body></html>"
            )
        elif self.path == "/flaky" and self.flaky_recovered.is_set():
            self.send_body(
                200, "text/html", "<html><body><p>The flaky page answers at last in Oslo.</p></body></html>"
            )
        elif self.path in ("/flaky", "/gone"):
            self.send_body(503, "text/plain", "busy, come back later")
        else:
            self.send_body(404, "text/plain", "not here")

    def _feed(self) -> str:
        base = f"http://{self.headers['Host']}"
        items = "".join(
            f"<item><title>Harbour news {n}</title><link>{base}/articles/{n}</link></item>"
            for n in range(1, FEED_ITEMS + 1)
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour</title>{items}</channel></rss>'
        )


@contextmanager
def loopback_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@dataclass(frozen=True)
class Seeded:
    """The first tenant's data: its admin key, its documents, and what the console must show of them."""

    key: TestKey
    documents: list[KnownDocument]
    document_ids: list[str]

    def count(self, **match: str) -> int:
        return sum(
            all(getattr(document, name) == value for name, value in match.items())
            for document in self.documents
        )

    @property
    def sentiment_totals(self) -> Counter[str]:
        return Counter(document.sentiment for document in self.documents)


def job_statuses(tenant: str) -> dict[str, int]:
    with session_scope() as session:
        rows = session.execute(
            select(Job.status, func.count()).where(Job.tenant == tenant).group_by(Job.status)
        ).all()
    return dict(rows)


def page_job_status(tenant: str, page: str) -> str | None:
    """The status of the job that fetches the loopback site's `page`."""
    with session_scope() as session:
        return session.scalar(
            select(Job.status)
            .join(Document, Document.id == Job.document_id)
            .where(Job.tenant == tenant, Document.url.endswith(f"/{page}"))
        )


def seed(api_url: str, site_url: str, key: TestKey) -> Seeded:
    """The known documents, two pages that die (dead letters), and a feed source never polled yet."""
    documents = known_documents(SEED_COUNT, tag=f"-{uuid.uuid4().hex[:4]}")
    with httpx.Client(base_url=api_url, headers=key.headers, timeout=30) as client:
        accepted = [
            client.post(
                "/v1/documents", json={"text": document.text, "title": f"Report {i}", "source": SEED_SOURCE}
            )
            .raise_for_status()
            .json()
            for i, document in enumerate(documents)
        ]
        for page in ("flaky", "gone"):
            client.post("/v1/documents", json={"url": f"{site_url}/{page}", "source": f"{page}-site"})
        source = client.put(
            "/v1/sources/harbour-feed", json={"type": "rss", "url": f"{site_url}/feed.xml", "interval": "1h"}
        )
        source.raise_for_status()
    wait_until(
        lambda: job_statuses(key.tenant) == {"done": SEED_COUNT, "dead": 2},
        timeout=180,
        what="the seeded jobs to finish (and the failing pages' to die)",
    )
    return Seeded(
        key=key,
        documents=documents,
        document_ids=[answer["document_id"] for answer in accepted],
    )
