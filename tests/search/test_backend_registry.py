"""The table of search backends: every name settings accept builds a backend from settings."""

from __future__ import annotations

import pytest

from sie.core import search
from sie.core.config import ConfigError, settings
from sie.core.search import SEARCH_BACKENDS, MeilisearchSearch


def test_an_unknown_backend_stops_with_the_registered_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "search_backend", "elastic")
    search.get_search_backend.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"SEARCH_BACKEND='elastic'.*meilisearch, database"):
            search.get_search_backend()
    finally:
        search.get_search_backend.cache_clear()


def test_every_backend_builds_from_settings_under_its_registered_name() -> None:
    for name, factory in SEARCH_BACKENDS.items():
        assert factory(settings).name == name


def test_meilisearch_is_built_from_its_settings() -> None:
    backend = SEARCH_BACKENDS["meilisearch"](settings)
    assert isinstance(backend, MeilisearchSearch)
    assert backend.url == settings.effective_meilisearch_url
    assert backend.index_name == settings.meilisearch_index
