"""XML sitemaps (sitemaps.org 0.9): `<urlset>` documents and `<sitemapindex>` documents that list them.

Indexes are followed recursively up to MAX_INDEX_DEPTH levels and SOURCE_MAX_SITEMAPS documents per
poll; gzip'd sitemaps are decompressed up to SOURCE_MAX_SITEMAP_BYTES. defusedxml parses every
document, with DTDs refused, so no XML bomb expands. An index is always fetched in full (its
children are what change); each child sitemap is fetched with its own conditional GET.
"""

from __future__ import annotations

import io
import zlib
from collections import deque
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from sie.core.config import settings
from sie.core.errors import ContentTooLarge, MalformedListing
from sie.core.fetch import FetchedContent
from sie.core.logging import get_logger
from sie.core.sources.base import (
    DiscoveredItem,
    DiscoveryContext,
    DiscoveryResult,
    normalize_item_url,
    parse_timestamp,
)
from sie.core.sources.config import UrlConfig

log = get_logger(__name__)
GZIP_MAGIC = b"\x1f\x8b"
# The protocol has one level (index → sitemaps); a little slack for sites that nest once more.
MAX_INDEX_DEPTH = 2


class SitemapConfig(UrlConfig):
    REFUSAL = "a sitemap source needs `url` (the sitemap or sitemap index) and no `urls`"


class SitemapSource:
    def __init__(self, config: SitemapConfig) -> None:
        self.url = config.url

    def discover(self, ctx: DiscoveryContext, *, max_items: int) -> DiscoveryResult:
        result = DiscoveryResult()
        pending: deque[tuple[str, int]] = deque([(self.url, 0)])
        visited: set[str] = set()
        while pending and not result.truncated:
            url, depth = pending.popleft()
            if url in visited:
                continue
            if len(visited) >= settings.source_max_sitemaps:
                log.warning("sitemap_limit_reached", url=self.url, limit=settings.source_max_sitemaps)
                result.truncated = True
                break
            visited.add(url)
            fetched = ctx.fetch(url, max_bytes=settings.source_max_sitemap_bytes)
            if fetched is None:
                continue
            children = _read_sitemap(fetched, result, max_items=max_items)
            if children is None:
                continue
            ctx.forget(url)
            if depth >= MAX_INDEX_DEPTH:
                raise MalformedListing(
                    f"sitemap index {url} is nested more than {MAX_INDEX_DEPTH} levels deep"
                )
            pending.extend((child, depth + 1) for child in children)
        return result


def _read_sitemap(fetched: FetchedContent, result: DiscoveryResult, *, max_items: int) -> list[str] | None:
    """Add a `<urlset>`'s URLs to `result` and return None, or return a `<sitemapindex>`'s child sitemaps."""
    document = _decompressed(fetched.content, fetched.url)
    children: list[str] = []
    root: str | None = None
    try:
        for event, element in iterparse(io.BytesIO(document), events=("start", "end"), forbid_dtd=True):
            name = _local_name(element)
            if event == "start":
                if root is None:
                    root = name
                    if root not in ("urlset", "sitemapindex"):
                        raise MalformedListing(f"{fetched.url} is not a sitemap (root element <{root}>)")
                continue
            if root == "sitemapindex" and name == "sitemap":
                if loc := _child_url(element, fetched.url):
                    children.append(loc)
                element.clear()
            elif root == "urlset" and name == "url":
                if item := _url_item(element, fetched.url):
                    if len(result.items) >= max_items:
                        result.truncated = True
                        break
                    result.items.append(item)
                element.clear()
    except DefusedXmlException as exc:
        raise MalformedListing(f"{fetched.url} declares a DTD or entities; refused ({exc})") from None
    except ParseError as exc:
        raise MalformedListing(f"{fetched.url} is not well-formed XML: {exc}") from None
    return children if root == "sitemapindex" else None


def _decompressed(content: bytes, url: str) -> bytes:
    """Gzip'd sitemaps (`.xml.gz`) inflated, refusing to grow past SOURCE_MAX_SITEMAP_BYTES."""
    if not content.startswith(GZIP_MAGIC):
        return content
    cap = settings.source_max_sitemap_bytes
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        document = inflater.decompress(content, cap + 1)
    except zlib.error as exc:
        raise MalformedListing(f"{url} is not valid gzip: {exc}") from None
    if len(document) > cap:
        raise ContentTooLarge(f"sitemap {url} inflates to more than the {cap}-byte cap")
    if not inflater.eof:
        raise MalformedListing(f"{url} is a truncated gzip stream")
    return document


def _local_name(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _child_text(element: Element, name: str) -> str | None:
    for child in element:
        if _local_name(child) == name and child.text:
            return child.text.strip()
    return None


def _child_url(element: Element, base: str) -> str | None:
    loc = _child_text(element, "loc")
    return normalize_item_url(loc, base=base) if loc else None


def _url_item(element: Element, base: str) -> DiscoveredItem | None:
    url = _child_url(element, base)
    if url is None:
        return None
    return DiscoveredItem(url=url, modified=parse_timestamp(_child_text(element, "lastmod")))
