"""Every source type, in one table: a new type is one module plus one line here.

Each row names the type's config class (which reads and validates the declared spec, and says which
of `url`/`urls` it takes), the source class built from that config, and one line of description.
The IngestionSource CRD's `type` enum and its url/urls rule are rendered from this table by
`scripts/sync_crds.py`; a test fails when the committed CRD differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sie.core.errors import SourceConfigError
from sie.core.sources.base import Source
from sie.core.sources.config import Locations, SourceConfig, SourceSpec
from sie.core.sources.feed import FeedConfig, FeedSource
from sie.core.sources.json_feed import JsonFeedConfig, JsonFeedSource
from sie.core.sources.sitemap import SitemapConfig, SitemapSource
from sie.core.sources.url_list import UrlListConfig, UrlListSource

ConfigT = TypeVar("ConfigT", bound=SourceConfig)


@dataclass(frozen=True)
class SourceType(Generic[ConfigT]):
    config: type[ConfigT]
    source: Callable[[ConfigT], Source]
    description: str

    @property
    def locations(self) -> Locations:
        return self.config.LOCATIONS


SOURCE_TYPES: dict[str, SourceType[Any]] = {
    "rss": SourceType(FeedConfig, FeedSource, "an RSS 0.9x, 1.0 or 2.0 feed at url"),
    "atom": SourceType(FeedConfig, FeedSource, "an Atom feed at url"),
    "url_list": SourceType(UrlListConfig, UrlListSource, "the URLs in urls, or a text list of them at url"),
    "sitemap": SourceType(SitemapConfig, SitemapSource, "an XML sitemap or sitemap index at url"),
    "json_feed": SourceType(JsonFeedConfig, JsonFeedSource, "a JSON Feed (1.0 or 1.1) at url"),
}


def build_source(type_name: str, spec: SourceSpec) -> Source:
    """The configured source; raises `SourceConfigError` for an unknown type or a config it cannot use."""
    entry = SOURCE_TYPES.get(type_name)
    if entry is None:
        raise SourceConfigError(f"unknown source type {type_name!r}; known types: {', '.join(SOURCE_TYPES)}")
    config = entry.config.from_spec(spec)
    config.validate()
    return entry.source(config)


def check_source_config(type_name: str, *, url: object | None, urls: Sequence[object]) -> None:
    """Raise `SourceConfigError` unless `type_name` can work with these locations."""
    build_source(type_name, SourceSpec(url=str(url) if url is not None else None, urls=tuple(map(str, urls))))
