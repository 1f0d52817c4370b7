"""Feeds as they come in the wild, polled from a real local site: legacy and UTF-16/32 encodings, and
entries whose id is not an address (isPermaLink="false", `tag:`, `urn:`), which are never fetched."""

from __future__ import annotations

import codecs

import pytest
from sqlalchemy import select

from sie.core.db import session_scope
from sie.core.engine.jobs.run import run_jobs
from sie.core.engine.scheduler import SourceScheduler
from sie.core.models import Document, Job
from tests.sources.source_helpers import ingested, item_statuses, make_source
from tests.sources.sources_site import Site
from tests.unit.test_feed_reading import encoded_feed, rss_body, title_in
from tests.worker.test_job_runner import RecordingQueue


@pytest.mark.parametrize(
    ("codec", "bom", "declared", "content_type"),
    [
        pytest.param("big5", b"", "Big5", "application/rss+xml", id="big5"),
        pytest.param("euc-kr", b"", "EUC-KR", "application/rss+xml", id="euc-kr"),
        pytest.param("gb2312", b"", "GB2312", "application/rss+xml", id="gb2312"),
        pytest.param("shift_jis", b"", None, "text/xml; charset=Shift_JIS", id="shift_jis-http-charset"),
        pytest.param("utf-16-be", b"", "UTF-16BE", "application/rss+xml", id="utf-16be-no-bom"),
        pytest.param("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32", "application/rss+xml", id="utf-32-bom"),
    ],
)
def test_a_feed_in_a_legacy_or_wide_encoding_is_polled_and_ingested(
    site: Site,
    scheduler: SourceScheduler,
    tenant: str,
    codec: str,
    bom: bytes,
    declared: str | None,
    content_type: str,
) -> None:
    title = title_in(codec)
    links = [site.serve_article(f"/articles/{n}") for n in range(2)]
    items = "".join(
        f"<item><title>{title} {n}</title><link>{link}</link></item>" for n, link in enumerate(links)
    )
    site.serve("/feed.xml", encoded_feed(rss_body(items), codec, bom, declared), content_type=content_type)
    source_id = make_source(tenant, name="encoded", type="rss", url=site.url("/feed.xml"))

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "ok", result
    assert result.counts.ingested == 2
    assert {d.title for d in ingested(tenant).documents} == {f"{title} 0", f"{title} 1"}


ENTRIES_WITHOUT_ADDRESSES = [
    ('<guid isPermaLink="false">post-17</guid>', "Harbour reopens", "The harbour in Kelvinmouth reopened."),
    (
        "<guid>tag:news.example,2026:18</guid>",
        "Bridge closed",
        "The Quillbrook bridge is closed for repairs.",
    ),
    ("<guid>abc-19</guid>", "Ferry timetable", "Ferries to Ostrava Sound run hourly from Monday."),
    (
        "<guid>urn:uuid:6f2b0c52-99a4-4d7e-b0a1-2d5c1a3e9b20</guid>",
        "Market day",
        "The Tamsworth market moves.",
    ),
]


def serve_entries(site: Site, entries: list[tuple[str, str, str]]) -> None:
    items = "".join(
        f"<item>{guid}<title>{title}</title><description>{text}</description></item>"
        for guid, title, text in entries
    )
    site.serve("/feed.xml", f'<?xml version="1.0" encoding="utf-8"?>{rss_body(items)}')


def test_entries_whose_id_is_no_address_are_ingested_from_the_feed_without_a_fetch(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    serve_entries(site, ENTRIES_WITHOUT_ADDRESSES[:3])
    source_id = make_source(tenant, name="no-links", type="rss", url=site.url("/feed.xml"))

    first = scheduler.poll_source(source_id)

    assert first is not None and first.outcome == "ok"
    assert (first.counts.ingested, first.counts.failed) == (3, 0)
    # Nothing but robots.txt and the feed itself was asked for: no id was taken for a relative link.
    assert set(site.paths_requested()) == {"/robots.txt", "/feed.xml"}
    assert set(item_statuses(source_id).values()) == {"ingested"}
    documents = ingested(tenant, "no-links").documents
    assert {d.title for d in documents} == {title for _, title, _ in ENTRIES_WITHOUT_ADDRESSES[:3]}
    assert all(d.url and d.url.startswith(site.url("/feed.xml#")) for d in documents)

    # The feed gains an entry: only that one is new, the others are known by their ids.
    serve_entries(site, ENTRIES_WITHOUT_ADDRESSES)
    second = scheduler.poll_source(source_id)

    assert second is not None and (second.counts.new, second.counts.ingested) == (1, 1)
    assert len(ingested(tenant, "no-links").documents) == 4
    assert set(site.paths_requested()) == {"/robots.txt", "/feed.xml"}


@pytest.mark.slow
def test_a_worker_reads_an_entry_s_own_text_into_its_document(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    serve_entries(site, ENTRIES_WITHOUT_ADDRESSES[:1])
    source_id = make_source(tenant, name="inline", type="rss", url=site.url("/feed.xml"))
    scheduler.poll_source(source_id)
    with session_scope() as session:
        job_ids = list(
            session.scalars(
                select(Job.id).join(Document, Document.id == Job.document_id).where(Document.tenant == tenant)
            )
        )

    run_jobs(job_ids, queue=RecordingQueue())

    [done] = ingested(tenant, "inline").documents
    assert done.status == "done", done
    assert done.title == "Harbour reopens"
    assert "The harbour in Kelvinmouth reopened." in (done.text or "")
