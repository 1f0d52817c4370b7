"""RSS (0.9x, 1.0, 2.0) and Atom feeds, read with feedparser; the registry maps `rss` and `atom` here."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import feedparser

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

log = get_logger(__name__)


class FeedConfig(UrlConfig):
    REFUSAL = "a feed source needs `url` (the feed's address) and no `urls`"


class FeedSource:
    """A feed at `url`; each entry's link is an item, identified by its guid when the feed gives one."""

    def __init__(self, config: FeedConfig) -> None:
        self.url = config.url

    def discover(self, ctx: DiscoveryContext, *, max_items: int) -> DiscoveryResult:
        fetched = ctx.fetch(self.url)
        if fetched is None:
            return DiscoveryResult()
        return parse_feed(fetched, max_items=max_items)


def parse_feed(fetched: FetchedContent, *, max_items: int) -> DiscoveryResult:
    """The entries of a feed document. A document that is no feed at all raises `MalformedListing`."""
    refuse_xml_entities(fetched.content, fetched.url)
    parsed = feedparser.parse(
        fetched.content,
        # Relative links in entries resolve against where the feed really came from.
        response_headers={
            "content-location": fetched.url,
            "content-type": fetched.content_type or "application/xml",
        },
    )
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
    link = entry.get("link") or guid
    url = normalize_item_url(link, base=feed_url) if link else None
    if url is None:
        return None
    return DiscoveredItem(
        url=url,
        title=entry.get("title") or None,
        guid=guid[:MAX_GUID_CHARS] if guid else None,
        published=_entry_time(entry),
    )


def _entry_time(entry: Any) -> datetime | None:
    parsed: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None
