"""A feed entry with no page of its own, ingested from what the feed itself says: title and content.

An entry whose id is not an http(s) URL (`tag:`, `urn:`, an RSS guid with isPermaLink="false")
and that has no link names nothing to fetch. Its own title and content become the document, as a
small HTML page, at the feed's URL with the entry's id as fragment (`…/feed.xml#tag:…`): an address
that says where the text came from, is the same at every poll (so the entry is ingested once) and
is never fetched.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from urllib.parse import quote

from sie.core.fetch import FetchedContent
from sie.core.sources.base import MAX_GUID_CHARS, DiscoveredItem

INLINE_CONTENT_TYPE = "text/html; charset=utf-8"
# Characters RFC 3986 allows in a fragment as they are; anything else is percent-encoded.
FRAGMENT_SAFE = "!$&'()*+,;=:@/?-._~"
BLANK_LINES = re.compile(r"\n\s*\n")


def inline_item(
    feed_url: str,
    *,
    guid: str | None,
    title: str | None,
    body_html: str | None,
    published: datetime | None,
) -> DiscoveredItem | None:
    """The entry itself as an item to ingest without fetching; None when it has neither title nor content."""
    if not (title or body_html):
        return None
    guid = guid[:MAX_GUID_CHARS] if guid else None
    key = guid or hashlib.sha256(f"{title}\n{body_html}".encode()).hexdigest()[:32]
    url = f"{feed_url.partition('#')[0]}#{quote(key, safe=FRAGMENT_SAFE)}"
    shown_title = html.escape(title or "")
    page = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{shown_title}</title></head>'
        f"<body>{body_html or f'<p>{shown_title}</p>'}</body></html>"
    )
    return DiscoveredItem(
        url=url,
        title=title,
        guid=guid,
        published=published,
        inline=FetchedContent(
            url=url, content=page.encode(), content_type=INLINE_CONTENT_TYPE, status_code=200
        ),
    )


def text_as_html(text: str) -> str:
    """Plain text as HTML paragraphs (split at blank lines), every character escaped."""
    return "".join(f"<p>{html.escape(part.strip())}</p>" for part in BLANK_LINES.split(text) if part.strip())
