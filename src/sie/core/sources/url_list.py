"""A list of URLs: given inline (`urls`), or as a plain-text document at `url`, one URL per line."""

from __future__ import annotations

from collections.abc import Iterable

from sie.core.errors import MalformedListing, SourceConfigError
from sie.core.sources.base import (
    DiscoveredItem,
    DiscoveryContext,
    DiscoveryResult,
    SourceSpec,
    normalize_item_url,
)

COMMENT = "#"


class UrlListSource:
    """Inline `urls` need no fetch at all; a list document is fetched with conditional GET like a feed."""

    def __init__(self, spec: SourceSpec) -> None:
        if bool(spec.url) == bool(spec.urls):
            raise SourceConfigError(
                "a url_list source needs either `urls` (the URLs themselves) or `url` "
                "(a text document listing them, one per line), not both"
            )
        unusable = [url for url in spec.urls if normalize_item_url(url) is None]
        if unusable:
            raise SourceConfigError(f"`urls` holds URLs SIE cannot fetch: {', '.join(unusable[:5])}")
        self.url = spec.url
        self.urls = spec.urls

    def discover(self, ctx: DiscoveryContext, *, max_items: int) -> DiscoveryResult:
        if self.url is None:
            return _items(self.urls, base=None, max_items=max_items)
        fetched = ctx.fetch(self.url)
        if fetched is None:
            return DiscoveryResult()
        if b"\x00" in fetched.content:
            raise MalformedListing(f"{fetched.url} is not a text list of URLs (it holds binary data)")
        lines = [
            line.strip()
            for line in fetched.content.decode("utf-8", errors="replace").splitlines()
            if line.strip() and not line.lstrip().startswith(COMMENT)
        ]
        result = _items(lines, base=fetched.url, max_items=max_items)
        if lines and not result.items:
            raise MalformedListing(f"{fetched.url} lists no http(s) URLs (first line: {lines[0][:100]!r})")
        return result


def _items(lines: Iterable[str], *, base: str | None, max_items: int) -> DiscoveryResult:
    result = DiscoveryResult()
    for line in lines:
        url = normalize_item_url(line, base=base)
        if url is None:
            continue
        if len(result.items) >= max_items:
            result.truncated = True
            break
        result.items.append(DiscoveredItem(url=url))
    return result
