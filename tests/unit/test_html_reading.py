"""HTML pages: their main text (trafilatura, or the bounded reading beyond its limits) and metadata."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from sie.core.errors import EmptyContent
from sie.core.pipeline import html_text
from sie.core.pipeline.extract import extract
from sie.core.pipeline.html_article import teaser_cards
from sie.core.pipeline.html_meta import as_stored, published_time
from sie.core.pipeline.types import PageMetadata
from tests.unit.html_pages import BLOG_PAGE, DOCS_PAGE, NEWS_PAGE, PAGES, Page

WORD = re.compile(r"\w+")


def token_f1(reference: str, extracted: str) -> float:
    """The benchmark's second measure: F1 of lowercased words, counted with repeats."""
    true, found = (Counter(word.lower() for word in WORD.findall(text)) for text in (reference, extracted))
    overlap = sum((true & found).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(found.values()), overlap / sum(true.values())
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(params=["trafilatura", "bounded"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each page read both ways: by trafilatura, and as a page over its element bound would be."""
    if request.param == "bounded":
        monkeypatch.setattr(html_text, "MAX_ARTICLE_ELEMENTS", -1)
    return str(request.param)


# --- main text -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_main_text_of_news_blog_and_docs_pages(kind: str) -> None:
    page = PAGES[kind]
    text = extract(page.html.encode()).text
    assert token_f1(page.story, text) >= 0.9, text
    for boilerplate in (
        "Subscribe",
        "Most read",
        "Share on",
        "All rights reserved",
        "Leave a reply",
        "Previous",
    ):
        assert boilerplate not in text


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_pages_over_the_element_bound_still_lose_their_boilerplate(kind: str, monkeypatch) -> None:
    monkeypatch.setattr(html_text, "MAX_ARTICLE_ELEMENTS", -1)
    page = PAGES[kind]
    text = extract(page.html.encode()).text
    assert token_f1(page.story, text) >= 0.75, text
    assert "Related headline" not in text and "Most read" not in text


STORY = "<h1>Harbour vote</h1>" + "".join(
    f"<p>Paragraph {n} of the main story explains in plenty of words what happened at the harbour "
    "council meeting on Tuesday evening, and why the vote on the new pier matters to the town.</p>"
    for n in range(6)
)
CARDS = "".join(
    f'<article class="card"><h3><a href="/s{n}">Teaser headline {n}</a></h3><p>Teaser {n}.</p></article>'
    for n in range(6)
)


@pytest.mark.parametrize(
    "body",
    [
        f"<section>{CARDS}</section><div class='story'>{STORY}</div>",
        f"<section>{CARDS}</section><article>{STORY}</article><aside>{CARDS}</aside>",
        f"<article>{STORY}</article><div class='more'>{CARDS}</div>",
    ],
    ids=["cards-then-story-in-div", "cards-around-story-article", "story-article-then-cards"],
)
def test_teaser_cards_never_stand_in_for_the_story(body: str, reading: str) -> None:
    text = extract(f"<html><head><title>T</title></head><body>{body}</body></html>".encode()).text
    assert "Paragraph 0 of the main story" in text and "Paragraph 5 of the main story" in text
    assert "Teaser" not in text


@pytest.mark.parametrize(
    ("outer_sizes", "page_chars", "main", "below"),
    [
        ([], 500, None, 0),
        ([900], 1000, 0, 0),
        ([40, 5000, 45], 5300, 1, 1250),  # a story article among cards: it is kept, cards go
        ([50, 50, 50], 2150, None, 500),  # cards beside a story outside any article
        ([1149, 3703], 6413, None, 3703 / 4),  # two big articles: only what is small beside them goes
    ],
)
def test_teaser_cards_rule(outer_sizes: list[int], page_chars: int, main: int | None, below: float) -> None:
    cards = teaser_cards(outer_sizes, page_chars)
    assert (cards.main, cards.below) == (main, below)


def test_boilerplate_only_page_has_no_main_text() -> None:
    page = b"<html><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav><footer>(c)</footer>"
    with pytest.raises(EmptyContent):
        extract(page)


# --- metadata --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "title", "metadata"),
    [
        (  # JSON-LD (@graph, several authors, a publisher), OpenGraph, <meta name=description>
            NEWS_PAGE,
            "Harbour council approves the new northern pier",
            PageMetadata(
                author="Maria Lindqvist, Tom Okafor",
                published_at=datetime(2026, 3, 4, 17, 30, tzinfo=UTC),
                canonical_url="https://www.baycourier.example/news/2026/03/harbour-pier-vote",
                site_name="The Bay Courier",
                description="Councillors voted 7-2 for the northern pier after a decade of dispute.",
            ),
        ),
        (  # OpenGraph and article:* properties; article:author is a profile URL, <meta name=author> a name
            BLOG_PAGE,
            "Why I moved my sourdough starter to rye",
            PageMetadata(
                author="Hannah Reyes",
                published_at=datetime(2025, 11, 18, 7, 45, tzinfo=UTC),
                canonical_url="/2025/11/starter-rye/",
                site_name="Crumb & Crust",
                description="A white-flour starter that sulked every winter, and what rye changed.",
            ),
        ),
        (  # named <meta> tags only, no author
            DOCS_PAGE,
            "Configuring retries — Harbour Docs 2.4 documentation",
            PageMetadata(
                published_at=datetime(2026, 1, 12, tzinfo=UTC),
                canonical_url="https://docs.harbour.example/en/2.4/retries.html",
                site_name="Harbour Docs",
                description="How SIE retries failed jobs, and how to change it.",
            ),
        ),
    ],
    ids=["news", "blog", "docs"],
)
def test_page_metadata(page: Page, title: str, metadata: PageMetadata) -> None:
    result = extract(page.html.encode())
    assert (result.title, result.metadata) == (title, metadata)


def test_the_time_element_of_the_article_dates_a_page_without_meta_tags() -> None:
    page = (
        "<html><body><header><time datetime='2030-01-01'>Today</time></header><article><h1>Notes</h1>"
        "<p>Posted <time datetime='2024-05-06T08:00:00-04:00'>May 6</time></p><p>Some text here.</p>"
        "</article></body></html>"
    )
    assert extract(page.encode()).metadata.published_at == datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def test_a_page_without_metadata_has_none() -> None:
    result = extract(b"<html><body><p>Only a paragraph of text, nothing about itself.</p></body></html>")
    assert result.metadata == PageMetadata()
    assert extract(b"Plain text, not a page.").metadata == PageMetadata()


@pytest.mark.parametrize(
    "json_ld",
    [
        "{not json",
        '"a string"',
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"@type": "Article", "author": {"name": ["odd"]}, "datePublished": "yesterday"}),
        json.dumps({"@type": ["Thing", "BlogPosting"], "author": "Ana Silva", "datePublished": "2024-02-30"}),
    ],
    ids=["broken", "string", "deep", "odd-values", "impossible-date"],
)
def test_broken_json_ld_is_ignored(json_ld: str) -> None:
    page = (
        f'<html><head><script type="application/ld+json">{json_ld}</script></head><body><p>Text.</p></body>'
    )
    metadata = extract(page.encode()).metadata
    assert metadata.published_at is None
    assert metadata.author in (None, "Ana Silva")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("2024-03-05T10:00:00.123+02:00", datetime(2024, 3, 5, 8, 0, 0, 123000, tzinfo=UTC)),
        ("2024-03-05 10:00", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 10:00:00 GMT", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("March 5th", None),
        ("", None),
        (None, None),
        (20240305, None),
        ("2024-03-05" + " " * 100, None),
    ],
)
def test_published_time(value: object, expected: datetime | None) -> None:
    assert published_time(value) == expected


def test_a_feed_entry_date_wins_and_a_relative_canonical_url_is_resolved() -> None:
    page = PageMetadata(published_at=datetime(2024, 1, 1, tzinfo=UTC), canonical_url="/posts/1?ref=x")
    stored = as_stored(
        page, page_url="https://blog.example/p?id=1", listed_published="2024-02-03T04:05:06+00:00"
    )
    assert stored.published_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert stored.canonical_url == "https://blog.example/posts/1?ref=x"
    # Without a listed date the page's stands; a relative URL with nothing to resolve it against goes.
    kept = as_stored(page, page_url=None, listed_published=None)
    assert kept.published_at == page.published_at and kept.canonical_url is None
    assert as_stored(PageMetadata(canonical_url="javascript:x()"), page_url=None, listed_published="x") == (
        PageMetadata()
    )
