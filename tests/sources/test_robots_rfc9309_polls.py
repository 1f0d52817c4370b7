"""robots.txt as polls obey it, against a real local site: RFC 9309 rules and its 500 KiB limit.

The rule table itself is tests/unit/test_robots_rfc9309.py; these check what a source's poll does.
"""

from __future__ import annotations

from sie.core.engine.scheduler import SourceScheduler
from sie.core.sources.robots import ROBOTS_PARSE_LIMIT
from tests.sources.source_helpers import ingested, make_source, source_row
from tests.sources.sources_site import Site, rss

# Comment lines that push what follows them past the parse limit (and past the old 512 KiB cap).
FILLER = "# " + "x" * 60 + "\n"
FILLER_LINES = ROBOTS_PARSE_LIMIT // len(FILLER) + 200


def test_a_longer_allow_beats_a_disallow_for_the_feed(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    # urllib.robotparser took the first matching line ("Disallow: /") and refused the feed.
    site.serve("/robots.txt", "User-agent: *\nDisallow: /\nAllow: /news/\n", content_type="text/plain")
    article = site.serve_article("/news/one")
    site.serve("/news/feed.xml", rss([(article, "one")]))
    source_id = make_source(tenant, type="rss", url=site.url("/news/feed.xml"), interval="1h")

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "ok"
    assert ingested(tenant).urls == {article}


def test_wildcard_rules_skip_the_items_they_match(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve("/robots.txt", "User-agent: sie\nDisallow: /*?print=\n", content_type="text/plain")
    plain, printable = site.serve_article("/articles/a"), site.serve_article("/articles/b?print=1")
    site.serve("/feed.xml", rss([(plain, "a"), (printable, "b")]))
    source_id = make_source(tenant, type="rss", url=site.url("/feed.xml"), interval="1h")

    result = scheduler.poll_source(source_id)

    assert result is not None and (result.counts.ingested, result.counts.disallowed) == (1, 1)
    assert ingested(tenant).urls == {plain}


def test_a_robots_txt_over_500_kib_is_obeyed_for_its_first_500_kib(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    # Before: over the 512 KiB fetch cap, the whole file was ignored and everything allowed.
    robots = "User-agent: *\nDisallow: /private/\n" + FILLER * FILLER_LINES + "Disallow: /late/\n"
    assert len(robots) > 512 * 1024
    site.serve("/robots.txt", robots, content_type="text/plain")
    site.serve("/private/feed.xml", rss([]))
    late = site.serve_article("/late/one")
    site.serve("/late/feed.xml", rss([(late, "one")]))
    private_source = make_source(tenant, type="rss", url=site.url("/private/feed.xml"), interval="1h")
    late_source = make_source(tenant, type="rss", url=site.url("/late/feed.xml"), interval="1h")

    private_poll = scheduler.poll_source(private_source)
    late_poll = scheduler.poll_source(late_source)

    assert private_poll is not None and private_poll.outcome == "failed"
    assert "disallows" in (source_row(private_source).last_error or "")
    assert site.requests_for("/private/feed.xml") == []
    # The rule past the limit is not read.
    assert late_poll is not None and late_poll.outcome == "ok"
    assert ingested(tenant).urls == {late}
