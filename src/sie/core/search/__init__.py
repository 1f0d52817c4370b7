"""Search: one `SearchBackend` interface, and every backend in one table, chosen once per process.

A new backend is one module with a class that satisfies `SearchBackend` and builds itself from
settings (`from_settings`), plus one line in `SEARCH_BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from sie.core.config import ConfigError, Settings, settings
from sie.core.search.base import SearchBackend, SearchDocument, SearchHit, SearchQuery, SearchResults
from sie.core.search.database import DatabaseSearch
from sie.core.search.meilisearch import MeilisearchSearch

SEARCH_BACKENDS: dict[str, Callable[[Settings], SearchBackend]] = {
    "meilisearch": MeilisearchSearch.from_settings,
    "database": DatabaseSearch.from_settings,
}


@cache
def get_search_backend() -> SearchBackend:
    """The backend SEARCH_BACKEND names (or the one settings imply), built once per process."""
    name = settings.effective_search_backend
    factory = SEARCH_BACKENDS.get(name)
    if factory is None:
        known = ", ".join(SEARCH_BACKENDS)
        raise ConfigError(f"SEARCH_BACKEND={name!r} is not a search backend; use one of: {known}")
    return factory(settings)


__all__ = [
    "SEARCH_BACKENDS",
    "DatabaseSearch",
    "MeilisearchSearch",
    "SearchBackend",
    "SearchDocument",
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "get_search_backend",
]
