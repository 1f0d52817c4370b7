"""RSS (0.9x, 1.0, 2.0) and Atom feeds, read with feedparser; the registry maps `rss` and `atom` here.

A feed is read in whatever encoding feedparser reads (a BOM, the HTTP charset, the XML declaration:
UTF-16/32 with or without a BOM, Big5, EUC-KR, GB2312, Shift_JIS…). The check for XML entity
declarations runs on the text feedparser will parse, decoded by feedparser's own rules, so no
encoding gets past it and none makes it fail.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

from sie.core.errors import MalformedListing
from sie.core.fetch import FetchedContent
from sie.core.logging import get_logger
from sie.core.sources.base import (
    MAX_GUID_CHARS,
    DiscoveredItem,
    DiscoveryContext,
    DiscoveryResult,
    normalize_item_url,
    refuse_xml_entities,
)
from sie.core.sources.config import UrlConfig
from sie.core.sources.entry_document import inline_item, text_as_html

log = get_logger(__name__)


class FeedConfig(UrlConfig):
    REFUSAL = "a feed source needs `url` (the feed's address) and no `urls`"


class FeedSource:
    """A feed at `url`; each entry's link is an item, identified by its guid when the feed gives one.
    An entry without a link is ingested from its own title and content (`entry_document`)."""

    def __init__(self, config: FeedConfig) -> None:
        self.url = config.url

    def discover(self, ctx: DiscoveryContext, *, max_items: int) -> DiscoveryResult:
        fetched = ctx.fetch(self.url)
        if fetched is None:
            return DiscoveryResult()
        return parse_feed(fetched, max_items=max_items)


def parse_feed(fetched: FetchedContent, *, max_items: int) -> DiscoveryResult:
    """The entries of a feed document. A document that is no feed at all raises `MalformedListing`."""
    # No content-location: feedparser would resolve a relative-looking guid ("abc-123") into a URL of
    # the feed's site; relative links are resolved against the feed's URL in `_entry_link` instead.
    headers = {"content-type": fetched.content_type or "application/xml"}
    # Decoded as feedparser decodes it and re-encoded as UTF-8 (declared so), which expat can check.
    refuse_xml_entities(convert_to_utf8(headers, fetched.content, {}), fetched.url)
    parsed = feedparser.parse(fetched.content, response_headers=headers)
    result = DiscoveryResult()
    for entry in parsed.entries:
        if len(result.items) >= max_items:
            result.truncated = True
            break
        if item := _entry_item(entry, fetched.url):
            result.items.append(item)
    # A well-formed feed may be empty; a broken one is accepted only if usable items came out of it.
    if not result.items and (parsed.bozo or not parsed.version):
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise MalformedListing(f"{fetched.url} is not a readable RSS or Atom feed: {reason}")
    if parsed.bozo:
        log.info("feed_parsed_leniently", url=fetched.url, reason=str(parsed.get("bozo_exception")))
    return result


def _entry_item(entry: Any, feed_url: str) -> DiscoveredItem | None:
    guid = entry.get("id") or None
    url = _entry_link(entry, feed_url)
    if url is None:
        return inline_item(
            feed_url,
            guid=guid,
            title=entry.get("title") or None,
            body_html=_entry_body(entry),
            published=_entry_time(entry),
        )
    return DiscoveredItem(
        url=url,
        title=entry.get("title") or None,
        guid=guid[:MAX_GUID_CHARS] if guid else None,
        published=_entry_time(entry),
    )


def _entry_link(entry: Any, feed_url: str) -> str | None:
    """The page an entry links to, or None when it links to none.

    feedparser copies an id into `link` when the entry has no link of its own (`guidislink`). Such an
    id locates a page only when it is an absolute http(s) URL: `tag:`, `urn:` and ids like `abc-123`
    name the entry, and resolving them against the feed's site would fetch a page that is not there.
    """
    link = entry.get("link")
    if not link:
        return None
    if entry.get("guidislink") and link == entry.get("id"):
        return normalize_item_url(link)
    return normalize_item_url(link, base=feed_url)


def _entry_body(entry: Any) -> str | None:
    """The entry's content (else its summary) as HTML; feedparser has already sanitised HTML content."""
    for detail in (*entry.get("content", ()), entry.get("summary_detail")):
        if detail and detail.get("value"):
            value: str = detail["value"]
            return value if "html" in (detail.get("type") or "") else text_as_html(value)
    return None


def _entry_time(entry: Any) -> datetime | None:
    parsed: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None
