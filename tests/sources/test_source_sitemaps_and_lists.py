"""Sitemaps (indexes, gzip, caps, XML bombs) and URL lists, served by a real local site."""

from __future__ import annotations

import gzip

import pytest

from sie.core.config import settings
from sie.core.engine.scheduler import SourceScheduler
from tests.sources.source_helpers import ingested, make_source, source_row
from tests.sources.sources_site import Site, gzipped, sitemap_index, urlset


def test_sitemap_index_with_a_gzipped_child(site: Site, scheduler: SourceScheduler, tenant: str) -> None:
    plain = [site.serve_article(f"/pages/{n}") for n in range(3)]
    packed = [site.serve_article(f"/archive/{n}") for n in range(2)]
    site.serve("/sitemap-pages.xml", urlset(plain), content_type="application/xml")
    site.serve("/sitemap-archive.xml.gz", gzipped(urlset(packed)), content_type="application/gzip")
    site.serve(
        "/sitemap_index.xml",
        sitemap_index([site.url("/sitemap-pages.xml"), site.url("/sitemap-archive.xml.gz")]),
        content_type="application/xml",
    )
    source_id = make_source(tenant, type="sitemap", url=site.url("/sitemap_index.xml"), interval="1h")

    first = scheduler.poll_source(source_id)

    assert first is not None and first.counts.ingested == 5
    assert ingested(tenant).urls == set(plain + packed)

    second = scheduler.poll_source(source_id)

    assert second is not None and second.counts.ingested == 0
    # The index is read in full each time (its children are what change); each child answered 304.
    assert "If-None-Match" not in site.requests_for("/sitemap_index.xml")[1].headers
    for child in ("/sitemap-pages.xml", "/sitemap-archive.xml.gz"):
        assert site.requests_for(child)[1].headers["If-None-Match"] == site.pages[child].etag
    assert source_row(source_id).validators.keys() == {
        site.url("/sitemap-pages.xml"),
        site.url("/sitemap-archive.xml.gz"),
    }
    assert ingested(tenant).jobs == 5


def test_a_gzip_bomb_stops_at_the_cap(
    site: Site, scheduler: SourceScheduler, tenant: str, monkeypatch
) -> None:
    monkeypatch.setattr(settings, "source_max_sitemap_bytes", 100_000)
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
    assert len(bomb) < 100_000
    site.serve("/sitemap.xml.gz", bomb, content_type="application/gzip")
    source_id = make_source(tenant, type="sitemap", url=site.url("/sitemap.xml.gz"))

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "failed"
    assert "inflates to more than the 100000-byte cap" in (source_row(source_id).last_error or "")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            '<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&b;</loc></url></urlset>',
            "declares a DTD or entities",
        ),
        ("<html><body>nope</body></html>", "is not a sitemap (root element <html>)"),
        ("<urlset><url><loc>http://x/</loc>", "is not well-formed XML"),
    ],
)
def test_unreadable_sitemaps_fail_the_poll(
    site: Site, scheduler: SourceScheduler, tenant: str, body: str, reason: str
) -> None:
    site.serve("/sitemap.xml", body, content_type="application/xml")
    source_id = make_source(tenant, type="sitemap", url=site.url("/sitemap.xml"))

    scheduler.poll_source(source_id)

    source = source_row(source_id)
    assert source.consecutive_failures == 1 and reason in (source.last_error or "")


def test_sitemap_documents_per_poll_are_capped(
    site: Site, scheduler: SourceScheduler, tenant: str, monkeypatch
) -> None:
    monkeypatch.setattr(settings, "source_max_sitemaps", 2)
    children = [site.url(f"/sitemap-{n}.xml") for n in range(4)]
    for n in range(len(children)):
        site.serve(f"/sitemap-{n}.xml", urlset([site.serve_article(f"/p/{n}")]))
    site.serve("/index.xml", sitemap_index(children))
    source_id = make_source(tenant, type="sitemap", url=site.url("/index.xml"))

    scheduler.poll_source(source_id)

    # The index and one child: two documents.
    assert len([p for p in site.paths_requested() if p.startswith("/sitemap-")]) == 1
    assert ingested(tenant).jobs == 1


def test_inline_url_list_is_ingested_once(site: Site, scheduler: SourceScheduler, tenant: str) -> None:
    urls = [site.serve_article(f"/docs/{n}") for n in range(3)]
    source_id = make_source(tenant, type="url_list", urls=urls, interval="1h")

    first = scheduler.poll_source(source_id)
    second = scheduler.poll_source(source_id)

    assert first is not None and first.counts.ingested == 3
    assert second is not None and second.counts.new == 0
    assert all(len(site.requests_for(f"/docs/{n}")) == 1 for n in range(3))
    assert ingested(tenant).urls == set(urls)


def test_url_list_document_with_comments_and_conditional_get(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    urls = [site.serve_article(f"/docs/{n}") for n in range(2)]
    site.serve(
        "/urls.txt",
        "# pages to watch\n\n" + "\n".join(urls) + "\nmailto:someone@example.org\n/docs/relative\n",
        content_type="text/plain",
    )
    site.serve_article("/docs/relative")
    source_id = make_source(tenant, type="url_list", url=site.url("/urls.txt"), interval="1h")

    scheduler.poll_source(source_id)
    second = scheduler.poll_source(source_id)

    assert ingested(tenant).urls == {*urls, site.url("/docs/relative")}
    assert second is not None and second.outcome == "not_modified"


def test_url_list_document_without_urls_is_malformed(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/urls.txt", "these are\nnot urls\n", content_type="text/plain")
    source_id = make_source(tenant, type="url_list", url=site.url("/urls.txt"))

    scheduler.poll_source(source_id)

    assert "lists no http(s) URLs" in (source_row(source_id).last_error or "")
