"""RSS and Atom sources against a real local site: conditional GET, new items only, failures and backoff."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.jobs.run import run_jobs
from sie.core.engine.scheduler import SourceScheduler
from sie.core.models import Job
from tests.sources.source_helpers import (
    ingested,
    item_statuses,
    make_source,
    seconds_until,
    source_row,
)
from tests.sources.sources_site import Site, atom, rss, start_site

HOUR = 3600


def serve_feed(site: Site, paths: list[str]) -> list[str]:
    links = [site.serve_article(path) for path in paths]
    site.serve(
        "/feed.xml", rss((link, f"Title {link}") for link in links), content_type="application/rss+xml"
    )
    return links


def test_first_poll_ingests_every_item_through_the_ingest_path(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    links = serve_feed(site, [f"/articles/{n}" for n in range(5)])
    source_id = make_source(tenant, name="news", type="rss", url=site.url("/feed.xml"), interval="1h")

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "ok"
    assert result.counts.ingested == 5
    done = ingested(tenant, "news")
    assert done.urls == set(links) and done.jobs == 5
    assert {d.title for d in done.documents} == {f"Title {link}" for link in links}
    assert all(d.meta["source_type"] == "rss" and d.external_id == d.url for d in done.documents)
    source = source_row(source_id)
    assert (source.items_seen, source.items_ingested, source.items_skipped) == (5, 5, 0)
    assert source.last_success_at is not None and source.consecutive_failures == 0
    assert HOUR - 60 < seconds_until(source.next_run_at) <= HOUR
    assert all(r.headers["User-Agent"].startswith("SIE/") for r in site.requests)


def test_second_poll_sends_validators_gets_304_and_ingests_nothing(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    serve_feed(site, [f"/articles/{n}" for n in range(3)])
    feed = site.pages["/feed.xml"]
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")
    scheduler.poll_source(source_id)
    requests_after_first = len(site.requests)

    polls = metrics.SOURCE_POLLS.labels(source_type="rss", outcome="not_modified")
    before = polls._value.get()
    second = scheduler.poll_source(source_id)

    assert second is not None and second.outcome == "not_modified"
    assert polls._value.get() == before + 1  # what the "source polls" dashboard panel counts
    feed_requests = site.requests_for("/feed.xml")
    assert len(feed_requests) == 2
    assert "If-None-Match" not in feed_requests[0].headers
    assert feed_requests[1].headers["If-None-Match"] == feed.etag
    assert feed_requests[1].headers["If-Modified-Since"] == feed.last_modified
    # Only the feed was asked for again; it answered 304 and nothing new was ingested.
    assert len(site.requests) == requests_after_first + 1
    assert ingested(tenant).jobs == 3
    assert source_row(source_id).last_poll["outcome"] == "not_modified"


def test_three_new_items_ingest_exactly_three(site: Site, scheduler: SourceScheduler, tenant: str) -> None:
    old = [f"/articles/{n}" for n in range(4)]
    serve_feed(site, old)
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")
    scheduler.poll_source(source_id)

    new = ["/articles/new-1", "/articles/new-2", "/articles/new-3"]
    serve_feed(site, new + old)
    result = scheduler.poll_source(source_id)

    assert result is not None and result.counts.ingested == 3 and result.counts.new == 3
    assert ingested(tenant).jobs == 7
    # Items already ingested are not fetched again.
    assert all(len(site.requests_for(path)) == 1 for path in old + new)
    assert source_row(source_id).items_ingested == 7


def test_atom_feed_with_relative_links(site: Site, scheduler: SourceScheduler, tenant: str) -> None:
    site.serve_article("/posts/a")
    site.serve_article("/posts/b")
    site.serve(
        "/atom.xml",
        atom([("urn:a", "/posts/a", "A"), ("urn:b", "posts/b", "B")]),
        content_type="application/atom+xml",
    )
    source_id = make_source(tenant, type="atom", url=site.url("/atom.xml"), interval="1h")

    scheduler.poll_source(source_id)

    assert ingested(tenant).urls == {site.url("/posts/a"), site.url("/posts/b")}
    assert {d.external_id for d in ingested(tenant).documents} == {"urn:a", "urn:b"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<html><body>Not a feed at all</body></html>", "not a readable RSS or Atom feed"),
        ("<rss><channel><item><title>broken", "not a readable RSS or Atom feed"),
        (
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><rss>&b;</rss>',
            "declares XML entities",
        ),
    ],
)
def test_malformed_feed_fails_the_poll_and_backs_off(
    site: Site, scheduler: SourceScheduler, tenant: str, body: str, reason: str
) -> None:
    site.serve("/feed.xml", body, content_type="application/xml")
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "failed"
    source = source_row(source_id)
    assert source.consecutive_failures == 1
    assert reason in (source.last_error or "")
    assert site.url("/feed.xml") in (source.last_error or "")
    # Backed off: later than the plain interval (twice the interval after one failure).
    assert seconds_until(source.next_run_at) > HOUR + 60
    assert seconds_until(source.next_run_at) <= 2 * HOUR


def test_server_error_is_recorded_backoff_grows_then_resets_on_success(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/feed.xml", "overloaded", status=500, validators=False)
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    scheduler.poll_source(source_id)
    first = source_row(source_id)
    scheduler.poll_source(source_id)
    second = source_row(source_id)

    assert first.consecutive_failures == 1 and "HTTP 500" in (first.last_error or "")
    assert 2 * HOUR - 60 < seconds_until(first.next_run_at) <= 2 * HOUR
    assert second.consecutive_failures == 2
    assert 4 * HOUR - 60 < seconds_until(second.next_run_at) <= 4 * HOUR
    assert first.last_success_at is None

    serve_feed(site, ["/articles/1"])
    scheduler.poll_source(source_id)
    recovered = source_row(source_id)
    assert recovered.consecutive_failures == 0 and recovered.last_error is None
    assert recovered.last_success_at is not None
    assert HOUR - 60 < seconds_until(recovered.next_run_at) <= HOUR


def test_backoff_is_capped(site: Site, scheduler: SourceScheduler, tenant: str, monkeypatch) -> None:
    monkeypatch.setattr(settings, "source_max_backoff_seconds", 3 * HOUR)
    site.serve("/feed.xml", "down", status=503, validators=False)
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")
    for _ in range(4):
        scheduler.poll_source(source_id)
    source = source_row(source_id)
    assert source.consecutive_failures == 4
    assert 3 * HOUR - 60 < seconds_until(source.next_run_at) <= 3 * HOUR


@pytest.mark.parametrize(
    "robots",
    [
        "User-agent: *\nDisallow: /private/\n",
        "User-agent: SIE\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
    ],
)
def test_robots_disallowing_the_feed_fails_with_a_clear_reason(
    site: Site, scheduler: SourceScheduler, tenant: str, robots: str
) -> None:
    site.serve("/robots.txt", robots, content_type="text/plain")
    site.serve("/private/feed.xml", rss([]))
    source_id = make_source(tenant, type="rss", url=site.url("/private/feed.xml"), interval="1h")

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "failed"
    source = source_row(source_id)
    assert source.last_error == (
        f"robots.txt at {site.url('/robots.txt')} disallows {site.url('/private/feed.xml')} for SIE"
    )
    assert source.consecutive_failures == 1
    assert site.requests_for("/private/feed.xml") == []


def test_robots_disallowed_items_are_skipped_and_counted(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/robots.txt", "User-agent: *\nDisallow: /members/\n", content_type="text/plain")
    public, private = site.serve_article("/articles/open"), site.serve_article("/members/only")
    site.serve("/feed.xml", rss([(public, "open"), (private, "members")]))
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "ok"
    assert (result.counts.ingested, result.counts.disallowed) == (1, 1)
    assert ingested(tenant).urls == {public}
    assert site.requests_for("/members/only") == []
    assert item_statuses(source_id) == {public: "ingested", private: "disallowed"}
    source = source_row(source_id)
    assert (source.items_seen, source.items_ingested, source.items_skipped) == (2, 1, 1)
    assert source.last_poll["disallowed"] == 1


def test_robots_txt_is_fetched_once_per_ttl_and_crawl_delay_spaces_requests(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/robots.txt", "User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
    serve_feed(site, ["/articles/1", "/articles/2", "/articles/3"])
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    scheduler.poll_source(source_id)
    scheduler.poll_source(source_id)

    assert len(site.requests_for("/robots.txt")) == 1
    starts = [r.at for r in site.requests if r.path != "/robots.txt"]
    assert len(starts) == 5  # feed, three articles, feed again (304)
    # Request starts are spaced by 1 s at the client; the server sees them give or take the time a
    # fetch takes to get going on a busy machine, so the four gaps are checked together.
    assert starts[-1] - starts[0] >= 3.0


def test_include_and_exclude_patterns(site: Site, scheduler: SourceScheduler, tenant: str) -> None:
    serve_feed(site, ["/news/1", "/news/2", "/news/2?print=1", "/sport/1"])
    source_id = make_source(
        tenant,
        type="rss",
        url=site.url("/feed.xml"),
        include_patterns=["*/news/*"],
        exclude_patterns=["*print=1"],
    )

    result = scheduler.poll_source(source_id)

    assert result is not None and result.counts.found == 2
    assert ingested(tenant).urls == {site.url("/news/1"), site.url("/news/2")}
    assert site.requests_for("/sport/1") == [] and site.requests_for("/news/2?print=1") == []


def test_items_already_ingested_for_the_tenant_are_skipped(site: Site, scheduler: SourceScheduler) -> None:
    shared = site.serve_article("/articles/shared")
    site.serve("/a.xml", rss([(shared, "shared")]))
    site.serve("/b.xml", rss([(shared, "shared again")]))
    first_tenant, second_tenant = "tenant-dup-a", "tenant-dup-b"
    a = make_source(first_tenant, type="rss", url=site.url("/a.xml"), name="a")
    b = make_source(first_tenant, type="rss", url=site.url("/b.xml"), name="b")
    other = make_source(second_tenant, type="rss", url=site.url("/b.xml"), name="b")

    scheduler.poll_source(a)
    result_b = scheduler.poll_source(b)
    scheduler.poll_source(other)

    assert result_b is not None and (result_b.counts.ingested, result_b.counts.skipped) == (0, 1)
    assert source_row(b).items_skipped == 1
    assert ingested(first_tenant).jobs == 1
    # Another tenant's copy is its own document.
    assert ingested(second_tenant).jobs == 1


def test_same_content_under_another_url_is_skipped(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    original = site.serve_article("/articles/original", "Same words")
    mirror = site.serve_article("/mirror/original", "Same words")
    site.serve("/feed.xml", rss([(original, "o"), (mirror, "m")]))
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"))

    result = scheduler.poll_source(source_id)

    assert result is not None and (result.counts.ingested, result.counts.skipped) == (1, 1)
    assert item_statuses(source_id) == {original: "ingested", mirror: "duplicate"}


def test_auth_header_goes_only_to_the_source_origin(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    other_site, other_server = start_site()
    try:
        own = site.serve_article("/articles/own")
        elsewhere = other_site.serve_article("/articles/elsewhere")
        site.serve("/feed.xml", rss([(own, "own"), (elsewhere, "elsewhere")]))
        source_id = make_source(
            tenant,
            type="rss",
            url=site.url("/feed.xml"),
            auth_header="Bearer s3cret",
            auth_header_name="Authorization",
        )

        scheduler.poll_source(source_id)

        assert site.requests_for("/feed.xml")[0].headers["Authorization"] == "Bearer s3cret"
        assert site.requests_for("/articles/own")[0].headers["Authorization"] == "Bearer s3cret"
        assert "Authorization" not in other_site.requests_for("/articles/elsewhere")[0].headers
        assert "Authorization" not in site.requests_for("/robots.txt")[0].headers
        assert ingested(tenant).jobs == 2
    finally:
        other_server.shutdown()
        other_server.server_close()


def test_per_poll_cap_leaves_a_backlog_for_a_prompt_next_poll(
    site: Site, scheduler: SourceScheduler, tenant: str, monkeypatch
) -> None:
    monkeypatch.setattr(settings, "source_max_items_per_poll", 2)
    serve_feed(site, [f"/articles/{n}" for n in range(5)])
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    first = scheduler.poll_source(source_id)

    assert first is not None and first.outcome == "partial"
    assert (first.counts.ingested, first.counts.backlog) == (2, 3)
    assert seconds_until(source_row(source_id).next_run_at) <= settings.source_backlog_delay_seconds
    scheduler.poll_source(source_id)
    scheduler.poll_source(source_id)
    # The feed was read in full each time (no validators while a backlog remains), until all were taken.
    assert all("If-None-Match" not in r.headers for r in site.requests_for("/feed.xml"))
    assert ingested(tenant).jobs == 5
    assert source_row(source_id).last_poll["outcome"] == "ok"


def test_item_with_a_transient_error_is_retried_next_poll(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    links = serve_feed(site, ["/articles/ok", "/articles/flaky"])
    site.serve("/articles/flaky", "busy", status=503, validators=False)
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    first = scheduler.poll_source(source_id)
    assert first is not None and (first.counts.ingested, first.counts.deferred) == (1, 1)
    assert HOUR - 60 < seconds_until(source_row(source_id).next_run_at) <= HOUR

    site.serve_article("/articles/flaky")
    second = scheduler.poll_source(source_id)

    assert second is not None and second.counts.ingested == 1
    assert ingested(tenant).urls == set(links)
    assert source_row(source_id).items_seen == 2


def test_item_that_is_gone_is_recorded_as_failed_once(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/feed.xml", rss([(site.url("/articles/missing"), "missing")]))
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "ok" and result.counts.failed == 1
    assert source_row(source_id).items_failed == 1
    assert item_statuses(source_id) == {site.url("/articles/missing"): "failed"}
    assert ingested(tenant).jobs == 0


class _NoBroker:
    """The worker step below runs in-process; nothing needs sending anywhere."""

    name = "none"

    def enqueue(self, queue: str, job_ids, *, countdown: float = 0) -> None:
        return None

    def check(self) -> None:
        return None


@pytest.mark.slow
def test_a_worker_turns_ingested_items_into_documents_without_fetching_again(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    link = site.serve_article("/articles/worker", "Ada Lovelace wrote the first program in London")
    site.serve("/feed.xml", rss([(link, "Ada")]))
    source_id = make_source(tenant, name="to-worker", type="rss", url=site.url("/feed.xml"))
    scheduler.poll_source(source_id)
    document = ingested(tenant).documents[0]
    with session_scope() as session:
        job_ids = list(session.scalars(select(Job.id).where(Job.document_id == document.id)))

    run_jobs(job_ids, queue=_NoBroker())

    done = ingested(tenant).documents[0]
    assert done.status == "done" and done.url == link and done.source == "to-worker"
    assert "Ada Lovelace wrote the first program" in (done.text or "")
    assert len(site.requests_for("/articles/worker")) == 1
