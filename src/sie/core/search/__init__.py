"""Search: one `SearchBackend` interface, chosen once per process from settings."""

from __future__ import annotations

from functools import cache

from sie.core.config import settings
from sie.core.search.base import SearchBackend, SearchDocument, SearchHit, SearchQuery, SearchResults
from sie.core.search.database import DatabaseSearch
from sie.core.search.meilisearch import MeilisearchSearch

# Per HTTP call to Meilisearch; waiting for its tasks has its own, longer limit.
MEILISEARCH_TIMEOUT_SECONDS = 5.0


@cache
def get_search_backend() -> SearchBackend:
    if settings.effective_search_backend == "meilisearch":
        return MeilisearchSearch(
            url=settings.effective_meilisearch_url,
            api_key=settings.meilisearch_key,
            index_name=settings.meilisearch_index,
            timeout=MEILISEARCH_TIMEOUT_SECONDS,
        )
    return DatabaseSearch()


__all__ = [
    "DatabaseSearch",
    "MeilisearchSearch",
    "SearchBackend",
    "SearchDocument",
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "get_search_backend",
]
