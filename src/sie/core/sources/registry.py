"""Every source type, in one table: a new type is one module plus one line here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sie.core.errors import SourceConfigError
from sie.core.sources.base import Source, SourceSpec
from sie.core.sources.feed import FeedSource
from sie.core.sources.sitemap import SitemapSource
from sie.core.sources.url_list import UrlListSource

SOURCE_TYPES: dict[str, Callable[[SourceSpec], Source]] = {
    "rss": FeedSource,
    "atom": FeedSource,
    "url_list": UrlListSource,
    "sitemap": SitemapSource,
}


def build_source(type_name: str, spec: SourceSpec) -> Source:
    """The configured source; raises `SourceConfigError` for an unknown type or a config it cannot use."""
    factory = SOURCE_TYPES.get(type_name)
    if factory is None:
        raise SourceConfigError(f"unknown source type {type_name!r}; known types: {', '.join(SOURCE_TYPES)}")
    return factory(spec)


def check_source_config(type_name: str, *, url: object | None, urls: Sequence[object]) -> None:
    """Raise `SourceConfigError` unless `type_name` can work with these locations."""
    build_source(type_name, SourceSpec(url=str(url) if url is not None else None, urls=tuple(map(str, urls))))
