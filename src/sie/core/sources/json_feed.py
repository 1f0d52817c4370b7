"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/); the registry maps `json_feed` here.

Each item's `url` is an item to ingest (relative URLs resolve against the feed). An item without
`url` falls back to its `id` when that is an absolute http(s) URL, as an RSS entry falls back to
its guid; any other id is never fetched. An item with neither is ingested from its own `title` and
`content_html` (else `content_text`, else `summary`), as an RSS entry without a link is
(`entry_document`). `external_url` (a page elsewhere that the item comments on) is not followed.
Only the document at `url` is read, not `next_url`: the newest items come first, and each poll
reads them, as a poll of an RSS feed does.
"""

from __future__ import annotations

import json
from typing import Any

from sie.core.errors import MalformedListing
from sie.core.fetch import FetchedContent
from sie.core.sources.base import (
    MAX_GUID_CHARS,
    DiscoveredItem,
    DiscoveryContext,
    DiscoveryResult,
    normalize_item_url,
    parse_timestamp,
)
from sie.core.sources.config import UrlConfig
from sie.core.sources.entry_document import inline_item, text_as_html

# 1.0 and 1.1 both say `https://jsonfeed.org/version/<n>`; early feeds wrote http.
VERSION_MARK = "jsonfeed.org/version/"


class JsonFeedConfig(UrlConfig):
    REFUSAL = "a json_feed source needs `url` (the feed's address) and no `urls`"


class JsonFeedSource:
    """A JSON Feed at `url`; each item is identified by its `id`."""

    def __init__(self, config: JsonFeedConfig) -> None:
        self.url = config.url

    def discover(self, ctx: DiscoveryContext, *, max_items: int) -> DiscoveryResult:
        fetched = ctx.fetch(self.url)
        if fetched is None:
            return DiscoveryResult()
        return parse_json_feed(fetched, max_items=max_items)


def parse_json_feed(fetched: FetchedContent, *, max_items: int) -> DiscoveryResult:
    """The items of a JSON Feed; a document that is not one raises `MalformedListing`."""
    result = DiscoveryResult()
    for entry in _feed_items(fetched):
        if len(result.items) >= max_items:
            result.truncated = True
            break
        if item := _item(entry, fetched.url):
            result.items.append(item)
    return result


def _feed_items(fetched: FetchedContent) -> list[Any]:
    try:
        document = json.loads(fetched.content)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, or nesting deep enough to blow the stack
        raise MalformedListing(f"{fetched.url} is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict) or VERSION_MARK not in str(document.get("version", "")):
        raise MalformedListing(f"{fetched.url} is not a JSON Feed (no {VERSION_MARK} version)")
    items = document.get("items")
    if not isinstance(items, list):
        raise MalformedListing(f"{fetched.url} is a JSON Feed without an `items` list")
    return items


def _item(entry: Any, feed_url: str) -> DiscoveredItem | None:
    if not isinstance(entry, dict):
        return None
    guid = _item_id(entry.get("id"))
    link = _text(entry.get("url"))
    url = normalize_item_url(link, base=feed_url) if link else None
    if url is None and guid:
        url = normalize_item_url(guid)
    title = _text(entry.get("title"))
    published = parse_timestamp(_text(entry.get("date_published")) or _text(entry.get("date_modified")))
    if url is None:
        return inline_item(feed_url, guid=guid, title=title, body_html=_body(entry), published=published)
    return DiscoveredItem(
        url=url, title=title, guid=guid[:MAX_GUID_CHARS] if guid else None, published=published
    )


def _body(entry: dict[str, Any]) -> str | None:
    if html := _text(entry.get("content_html")):
        return html
    text = _text(entry.get("content_text")) or _text(entry.get("summary"))
    return text_as_html(text) if text else None


def _item_id(value: Any) -> str | None:
    # The spec asks readers to coerce an id given as a number to a string.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
