"""The table of source types: every row builds a source from a valid spec and refuses bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from sie.core.errors import SourceConfigError
from sie.core.sources.config import Locations, SourceSpec
from sie.core.sources.registry import SOURCE_TYPES, build_source

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sources.md"
LISTING = "https://example.com/listing"


def valid_spec(type_name: str) -> SourceSpec:
    if SOURCE_TYPES[type_name].locations is Locations.URL:
        return SourceSpec(url=LISTING)
    return SourceSpec(urls=("https://example.com/a",))


@pytest.mark.parametrize("type_name", list(SOURCE_TYPES))
def test_every_type_builds_a_source_that_can_discover(type_name: str) -> None:
    source = build_source(type_name, valid_spec(type_name))
    assert callable(source.discover)


@pytest.mark.parametrize("type_name", list(SOURCE_TYPES))
@pytest.mark.parametrize("url", ["ftp://example.com/listing", "https:///no-host", "not a url"])
def test_every_type_refuses_a_listing_url_it_cannot_fetch(type_name: str, url: str) -> None:
    with pytest.raises(SourceConfigError, match="`url` is not an http"):
        build_source(type_name, SourceSpec(url=url))


@pytest.mark.parametrize("type_name", list(SOURCE_TYPES))
def test_every_type_is_described_and_documented(type_name: str) -> None:
    assert SOURCE_TYPES[type_name].description
    assert f"| `{type_name}` |" in DOCS.read_text(), f"add {type_name} to the types table in docs/sources.md"


def test_an_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(SourceConfigError) as raised:
        build_source("gopher", SourceSpec(url=LISTING))
    assert str(raised.value) == f"unknown source type 'gopher'; known types: {', '.join(SOURCE_TYPES)}"


@pytest.mark.parametrize(
    "urls",
    [
        ("https://user:secret@example.com/a",),
        ("mailto:someone@example.org",),
        ("https://example.com/" + "a" * 3000,),
    ],
)
def test_inline_urls_must_be_items_sie_can_fetch(urls: tuple[str, ...]) -> None:
    with pytest.raises(SourceConfigError, match="`urls` holds URLs SIE cannot fetch"):
        build_source("url_list", SourceSpec(urls=urls))
