"""A list of URLs: given inline (`urls`), or as a plain-text document at `url`, one URL per line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Self

from sie.core.errors import MalformedListing, SourceConfigError
from sie.core.sources.base import (
    DiscoveredItem,
    DiscoveryContext,
    DiscoveryResult,
    normalize_item_url,
)
from sie.core.sources.config import Locations, SourceSpec, require_listing_url

COMMENT = "#"


@dataclass(frozen=True)
class UrlListConfig:
    """The URLs themselves (`urls`), or the address of a text document that lists them (`url`)."""

    LOCATIONS: ClassVar[Locations] = Locations.URL_OR_URLS

    url: str | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: SourceSpec) -> Self:
        if not cls.LOCATIONS.accepts(spec):
            raise SourceConfigError(
                "a url_list source needs either `urls` (the URLs themselves) or `url` "
                "(a text document listing them, one per line), not both"
            )
        return cls(url=spec.url, urls=spec.urls)

    def validate(self) -> None:
        if self.url is not None:
            require_listing_url(self.url)
        # Inline URLs are items: held to what an item may be (no credentials, not too long).
        unusable = [url for url in self.urls if normalize_item_url(url) is None]
        if unusable:
            raise SourceConfigError(f"`urls` holds URLs SIE cannot fetch: {', '.join(unusable[:5])}")


class UrlListSource:
    """Inline `urls` need no fetch at all; a list document is fetched with conditional GET like a feed."""

    def __init__(self, config: UrlListConfig) -> None:
        self.url = config.url
        self.urls = config.urls

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
