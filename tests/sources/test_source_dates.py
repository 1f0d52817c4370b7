"""A feed entry's own date wins over the date its page gives; a sitemap's lastmod does not."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from sie.core.db import session_scope
from sie.core.engine.jobs.run import run_jobs
from sie.core.engine.scheduler import SourceScheduler
from sie.core.models import Document, Job
from tests.sources.source_helpers import ingested, make_source
from tests.sources.sources_site import Site, rss, urlset
from tests.worker.test_job_runner import RecordingQueue

# The page says it was published in 2024; the listings (sources_site) say 28 November 2026, 10:00 UTC.
PAGE = """<html><head><title>Pier vote</title>
<meta property="article:published_time" content="2024-01-02T08:00:00Z">
<meta name="author" content="Maria Lindqvist"><meta property="og:site_name" content="The Bay Courier">
<link rel="canonical" href="/news/pier-vote"></head>
<body><article><h1>Pier vote</h1><p>The harbour council voted seven to two for the new northern pier on
Tuesday, ending a dispute that divided the town for almost a decade.</p></article></body></html>"""
LISTED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def stored_documents(tenant: str) -> list[Document]:
    """The tenant's documents after a worker has run their jobs."""
    document_ids = [document.id for document in ingested(tenant).documents]
    with session_scope() as session:
        job_ids = list(session.scalars(select(Job.id).where(Job.document_id.in_(document_ids))))
    run_jobs(job_ids, queue=RecordingQueue())
    return ingested(tenant).documents


def test_a_feed_entry_date_wins_over_the_page_date(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/news/pier-vote", PAGE)
    site.serve(
        "/feed.xml", rss([(site.url("/news/pier-vote"), "Pier vote")]), content_type="application/rss+xml"
    )
    scheduler.poll_source(make_source(tenant, type="rss", url=site.url("/feed.xml")))

    [document] = stored_documents(tenant)

    assert document.status == "done"
    assert document.meta["published"] == LISTED.isoformat()
    assert document.published_at == LISTED
    # The rest of the page's metadata is kept, its relative canonical URL resolved against the page.
    assert (document.author, document.site_name) == ("Maria Lindqvist", "The Bay Courier")
    assert document.canonical_url == site.url("/news/pier-vote")


def test_a_sitemap_lastmod_is_not_a_publication_date(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/news/pier-vote", PAGE)
    site.serve("/sitemap.xml", urlset([site.url("/news/pier-vote")]), content_type="application/xml")
    scheduler.poll_source(make_source(tenant, type="sitemap", url=site.url("/sitemap.xml")))

    [document] = stored_documents(tenant)

    assert "published" not in document.meta and document.meta["modified"].startswith("2026-11-28")
    assert document.published_at == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
