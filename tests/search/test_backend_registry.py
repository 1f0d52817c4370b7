"""The table of search backends: every name settings accept builds a backend from settings."""

from __future__ import annotations

import typing

from sie.core.config import Settings, settings
from sie.core.search import SEARCH_BACKENDS, MeilisearchSearch


def accepted_names() -> set[str]:
    """The names SEARCH_BACKEND may take (a Literal, optional)."""
    annotation = Settings.model_fields["search_backend"].annotation
    literal = next(arg for arg in typing.get_args(annotation) if typing.get_origin(arg) is typing.Literal)
    return set(typing.get_args(literal))


def test_settings_accept_exactly_the_registered_backends() -> None:
    assert accepted_names() == set(SEARCH_BACKENDS)


def test_every_backend_builds_from_settings_under_its_registered_name() -> None:
    for name, factory in SEARCH_BACKENDS.items():
        assert factory(settings).name == name


def test_meilisearch_is_built_from_its_settings() -> None:
    backend = SEARCH_BACKENDS["meilisearch"](settings)
    assert isinstance(backend, MeilisearchSearch)
    assert backend.url == settings.effective_meilisearch_url
    assert backend.index_name == settings.meilisearch_index
