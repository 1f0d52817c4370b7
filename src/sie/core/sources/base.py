"""The one narrow interface every source type implements, and what types share.

A source type turns its declared config into a list of items (URLs to ingest); it never fetches
anything itself except through the `DiscoveryContext` it is handed, which applies robots.txt,
per-host politeness, conditional GET and size caps. Adding a type is one module with a class that
satisfies `Source` and a config class (`config.SourceConfig`), plus one line in
`registry.SOURCE_TYPES`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from sie.core.errors import MalformedListing
from sie.core.fetch import FetchedContent

MAX_ITEM_URL_CHARS = 2048
# A guid (RSS) or id (Atom, JSON Feed) longer than this is cut: it is a key, not content.
MAX_GUID_CHARS = 500


@dataclass(frozen=True)
class DiscoveredItem:
    """One thing a source lists: a URL to ingest, and what the listing says about it."""

    url: str
    title: str | None = None
    guid: str | None = None
    # The entry's own publication date (a feed's); it wins over the date the page gives.
    published: datetime | None = None
    # When the page last changed (a sitemap's lastmod): not a publication date.
    modified: datetime | None = None
    # A feed entry with no page of its own: its title and content, ingested instead of fetching `url`.
    inline: FetchedContent | None = None


@dataclass
class DiscoveryResult:
    items: list[DiscoveredItem] = field(default_factory=list)
    # Set when the listing held more than SOURCE_MAX_DISCOVERED_ITEMS and the rest was left unread.
    truncated: bool = False


class DiscoveryContext(Protocol):
    """The only way a source type reaches the network."""

    def fetch(self, url: str, *, max_bytes: int | None = None) -> FetchedContent | None:
        """GET a listing URL politely, sending the validators stored for it; None when it answers 304."""

    def forget(self, url: str) -> None:
        """Do not keep validators for `url`: the next poll fetches it in full (e.g. a sitemap index)."""


class Source(Protocol):
    """A source of one type, built from its validated config (`config.SourceConfig`)."""

    def discover(self, ctx: DiscoveryContext, *, max_items: int) -> DiscoveryResult:
        """The items the source lists now (at most `max_items`), or nothing when its listing is unchanged.

        Raises `MalformedListing` for a listing it cannot read; fetch errors pass through.
        """


def normalize_item_url(raw: str, *, base: str | None = None) -> str | None:
    """An http(s) URL in one spelling (no fragment, lower-case scheme and host), or None if it is not one."""
    raw = urljoin(base, raw.strip()) if base is not None else raw.strip()
    if not raw or len(raw) > MAX_ITEM_URL_CHARS or any(ch.isspace() for ch in raw):
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    # Credentials inside a listed URL are refused rather than sent somewhere by accident.
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def refuse_xml_entities(content: bytes, url: str) -> None:
    """Refuse a document that declares XML entities or external references (XML bombs) before parsing it."""
    try:
        # Declarations can only come before the root element, so reading up to it is enough.
        for _ in iterparse(
            io.BytesIO(content), events=("start",), forbid_entities=True, forbid_external=True
        ):
            return
    except DefusedXmlException as exc:
        raise MalformedListing(
            f"{url} declares XML entities or external references; refused ({exc})"
        ) from None
    except ParseError:
        return  # not well-formed XML: the format's own parser decides what it can read


def origin_of(url: str) -> str:
    """`scheme://host[:port]`: the unit robots.txt, politeness limits and credentials apply to."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def parse_timestamp(text: str | None) -> datetime | None:
    """An ISO 8601 / RFC 3339 date or time (UTC when it names no zone), or None if it is not one."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
