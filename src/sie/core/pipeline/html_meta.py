"""What a web page says about itself: title, author, publication date, canonical URL, site name, summary.

Read from the parsed page before boilerplate is stripped. Each field takes the first source that has
it, most structured first: JSON-LD (schema.org `Article`, `NewsArticle`, `BlogPosting`...), then
OpenGraph and `article:*` properties, then named `<meta>` tags (Dublin Core, Parse.ly, `itemprop`),
then `<time datetime>` inside the article, and `<link rel=canonical>` for the canonical URL.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from sie.core.pipeline.text import single_line
from sie.core.pipeline.types import PageMetadata

# schema.org types that describe the page's own content, in order of preference.
CONTENT_TYPES = (
    "NewsArticle", "ReportageNews", "AnalysisNewsArticle", "BlogPosting", "Article", "TechArticle",
    "ScholarlyArticle", "Report", "LiveBlogPosting", "SocialMediaPosting", "WebPage",
)  # fmt: skip
META_KEYS = {
    "title": ("og:title", "twitter:title", "dc.title"),
    "author": ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author"),
    "published": (
        "article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
        "date", "dc.date.issued", "dc.date", "dcterms.created", "dcterms.date", "parsely-pub-date",
        "sailthru.date", "publication_date",
    ),
    "site_name": ("og:site_name", "application-name"),
    "description": ("og:description", "description", "twitter:description", "dc.description"),
}  # fmt: skip
# Bounds that keep a hostile page's metadata cheap: JSON-LD blocks read, their size, nodes visited.
MAX_JSON_LD_BLOCKS = 20
MAX_JSON_LD_CHARS = 1 << 20
MAX_JSON_LD_NODES = 2_000
MAX_DATE_CHARS = 64
AUTHOR_CHARS, SITE_NAME_CHARS, TITLE_CHARS, DESCRIPTION_CHARS, URL_CHARS = 300, 300, 1000, 2000, 2000
# A publication date outside these years is a placeholder or a typo, not a date.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


def page_title_and_metadata(parser: LexborHTMLParser) -> tuple[str | None, PageMetadata]:
    """The page's title and metadata; fields the page does not give are None."""
    meta = _meta_tags(parser)
    linked = _linked_data(parser)
    published = _first_time(linked.get("datePublished"), *_values(meta, "published"), _article_time(parser))
    metadata = PageMetadata(
        author=_clip(_person_names(linked.get("author")) or _human_author(meta), AUTHOR_CHARS),
        published_at=published,
        canonical_url=_clip(_canonical(parser) or meta.get("og:url"), URL_CHARS),
        site_name=_clip(
            _first(*_values(meta, "site_name"), _name_of(linked.get("publisher"))), SITE_NAME_CHARS
        ),
        description=_clip(
            _first(*_values(meta, "description"), _text(linked.get("description"))), DESCRIPTION_CHARS
        ),
    )
    title_element = parser.css_first("title")
    title = _first(
        meta.get("og:title"), _text(linked.get("headline")), *_values(meta, "title"),
        title_element.text() if title_element is not None else None,
    )  # fmt: skip
    return _clip(title, TITLE_CHARS), metadata


def published_time(value: object) -> datetime | None:
    """A date or time as pages and feeds write it (ISO 8601 or RFC 822), in UTC; None if it is not one."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_DATE_CHARS:
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_stored(metadata: PageMetadata, *, page_url: str | None, listed_published: object) -> PageMetadata:
    """The metadata to store: the date a listing gave (a feed entry's, or the caller's) wins over the
    page's, and a relative canonical URL is resolved against the page's URL (dropped without one)."""
    canonical = urljoin(page_url or "", metadata.canonical_url or "")
    return replace(
        metadata,
        published_at=published_time(listed_published) or metadata.published_at,
        canonical_url=canonical if urlsplit(canonical).scheme in ("http", "https") else None,
    )


# --- the sources -----------------------------------------------------------------------------------


def _meta_tags(parser: LexborHTMLParser) -> dict[str, str]:
    """`<meta>` contents by lowercased property, name or itemprop; the first of each wins."""
    tags: dict[str, str] = {}
    for node in parser.css("meta[content]"):
        attributes = node.attributes
        content = attributes.get("content")
        key = attributes.get("property") or attributes.get("name") or attributes.get("itemprop")
        if key and content and content.strip():
            tags.setdefault(key.strip().lower(), content)
    return tags


def _linked_data(parser: LexborHTMLParser) -> dict[str, Any]:
    """The JSON-LD node that describes the page's content, the most specific type first; {} if none."""
    found: dict[str, dict[str, Any]] = {}
    for script in parser.css('script[type="application/ld+json"]')[:MAX_JSON_LD_BLOCKS]:
        source = script.text(deep=True)
        if len(source) > MAX_JSON_LD_CHARS:
            continue
        try:
            document = json.loads(source)
        except (ValueError, RecursionError):
            continue
        for node in _json_ld_nodes(document):
            types = node.get("@type")
            for name in types if isinstance(types, list) else [types]:
                if isinstance(name, str) and name in CONTENT_TYPES:
                    found.setdefault(name, node)
    return next((found[name] for name in CONTENT_TYPES if name in found), {})


def _json_ld_nodes(document: object) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD document (top level, lists, `@graph`, nested), breadth first, bounded."""
    queue, visited = deque([document]), 0
    while queue and visited < MAX_JSON_LD_NODES:
        value, visited = queue.popleft(), visited + 1
        if isinstance(value, list):
            queue.extend(value)
        elif isinstance(value, dict):
            yield value
            queue.extend(item for item in value.values() if isinstance(item, dict | list))


def _article_time(parser: LexborHTMLParser) -> str | None:
    """The first machine-readable time marked as the publication date, or else inside the article."""
    for selector in (
        '[itemprop="datePublished"][datetime]',
        "time[pubdate][datetime]",
        "article time[datetime]",
    ):
        node = parser.css_first(selector)
        if node is not None:
            return node.attributes.get("datetime")
    return None


def _canonical(parser: LexborHTMLParser) -> str | None:
    for node in parser.css("link[rel][href]"):
        if "canonical" in (node.attributes.get("rel") or "").lower().split():
            return node.attributes.get("href")
    return None


# --- reading values --------------------------------------------------------------------------------


def _values(meta: dict[str, str], field: str) -> list[str | None]:
    return [meta.get(key) for key in META_KEYS[field]]


def _first(*candidates: str | None) -> str | None:
    return next((text for candidate in candidates if (text := single_line(candidate or ""))), None)


def _first_time(*candidates: object) -> datetime | None:
    return next((moment for candidate in candidates if (moment := published_time(candidate))), None)


def _clip(text: str | None, limit: int) -> str | None:
    return text[:limit].rstrip() if text else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _name_of(value: object) -> str | None:
    """A schema.org Person or Organization's name (or the plain string given in its place)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name")
    return _first(_text(value))


def _person_names(value: object) -> str | None:
    """One author or several, joined by commas."""
    people = value if isinstance(value, list) else [value]
    names = [name for person in people[:20] if (name := _name_of(person))]
    return ", ".join(dict.fromkeys(names)) or None


def _human_author(meta: dict[str, str]) -> str | None:
    """The first author `<meta>` that names a person: `article:author` is often a profile URL."""
    return _first(*(value for value in _values(meta, "author") if value and "://" not in value))
