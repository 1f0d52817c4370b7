"""The main text of an article page, read by trafilatura (chosen by measurement: docs/extraction.md).

trafilatura's time and memory grow with the number of elements (about 50 µs each; a 10 MiB page of
small elements takes it 20 to 90 s and up to 2.5 GiB), so it reads pages of up to
MAX_ARTICLE_ELEMENTS only; for bigger pages, and pages it declines, the caller uses its own
linear-time reading. Teaser cards (`<article>`s a small fraction of the story beside them) are
removed first, so a row of them never stands in for the story.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import trafilatura
from lxml import etree
from lxml.html import HtmlElement

from sie.core.logging import get_logger
from sie.core.pipeline.text import normalize_text

log = get_logger(__name__)
# trafilatura logs pages it declines (a fragment, an empty tree) as errors; SIE reads those itself.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

MAX_ARTICLE_ELEMENTS = 20_000
# Past this many elements trafilatura reads without comparing its result with jusText's and
# readability's (`fast`): jusText's time grows with the square of the paragraphs (8,000 elements of
# identical short paragraphs take it 2.4 s).
MAX_COMPARED_ELEMENTS = 5_000
# Its text serialisation grows faster than linearly with the text of one block (a page of 2.6 MB of
# links takes 3 s, of 5.2 MB 9 s).
MAX_ARTICLE_TEXT_CHARS = 1 << 20
# libxml2 (without XML_PARSE_HUGE) stops building the tree at this depth and drops the text below.
LXML_MAX_DEPTH = 255
# An <article> with under a quarter of the story's text is a teaser card (measured: docs/extraction.md).
TEASER_RATIO = 4


@dataclass(frozen=True)
class Cards:
    """How to tell a page's teaser cards from its story."""

    # The outermost <article> that holds the story, when one dwarfs every other.
    main: int | None
    # An <article> with fewer characters than this is a teaser card.
    below: float


def teaser_cards(outer_sizes: Sequence[int], page_chars: int) -> Cards:
    """Which <article>s are teaser cards, from the text length of each outermost one and of the page.

    The story is as long as the longer of the largest article and the text outside every article; an
    article under 1/TEASER_RATIO of that is a card, except the largest one when it holds TEASER_RATIO
    times the text of the next: that one is the story's own, however much text lies outside it.
    """
    if len(outer_sizes) < 2:
        return Cards(main=0 if outer_sizes else None, below=0)
    largest, second = heapq.nlargest(2, outer_sizes)
    story = max(largest, page_chars - sum(outer_sizes))
    main = outer_sizes.index(largest) if largest >= TEASER_RATIO * second else None
    return Cards(main=main, below=story / TEASER_RATIO)


def article_text(markup: str) -> str:
    """The article's text, paragraphs separated by blank lines; "" when trafilatura finds none or the
    page is beyond its bounds (text, depth)."""
    tree = trafilatura.load_html(markup)
    if tree is None:
        return ""
    # trafilatura drops these too; here they would count against the text bound.
    etree.strip_elements(tree, "script", "style", "template", with_tail=False)
    depth, elements = _shape(tree)
    if (
        depth >= LXML_MAX_DEPTH
        or elements > MAX_ARTICLE_ELEMENTS
        or len(tree.text_content()) > MAX_ARTICLE_TEXT_CHARS
    ):
        return ""
    _drop_teaser_cards(tree)
    try:
        text = trafilatura.extract(
            tree,
            fast=elements > MAX_COMPARED_ELEMENTS,
            favor_precision=True,
            include_comments=False,
            include_tables=True,
        )
    except (ValueError, TypeError, LookupError, RecursionError, etree.LxmlError) as exc:
        # The library failing on odd markup costs the page its better reading, not its text.
        log.warning("article_extraction_failed", error=f"{type(exc).__name__}: {exc}")
        return ""
    # trafilatura ends each block (paragraph, heading, list item, line break) with one newline.
    return normalize_text((text or "").replace("\n", "\n\n"))


def _shape(tree: HtmlElement) -> tuple[int, int]:
    """The tree's depth and number of elements."""
    depth = deepest = elements = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        if event == "start":
            depth, elements = depth + 1, elements + 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest, elements


def _drop_teaser_cards(tree: HtmlElement) -> None:
    """Remove the teaser cards: outermost ones, and nested ones outside the story's own article."""
    articles = tree.xpath("//article")
    if len(articles) < 2:
        return
    sizes = _text_sizes(tree)
    outer = tree.xpath("//article[not(ancestor::article)]")
    body = tree.find("body")
    cards = teaser_cards([sizes[node] for node in outer], sizes[tree if body is None else body])
    story = outer[cards.main] if cards.main is not None else None
    kept = set() if story is None else {story, *story.iterdescendants("article")}
    for node in articles:
        if node not in kept and sizes[node] < cards.below and node.getparent() is not None:
            node.drop_tree()


def _text_sizes(root: HtmlElement) -> dict[HtmlElement, int]:
    """Each element's text length, its descendants' included, in one pass (children before parents)."""
    sizes: dict[HtmlElement, int] = {}
    for element in reversed(list(root.iter())):
        sizes[element] = len(element.text or "") + sum(
            sizes[child] + len(child.tail or "") for child in element
        )
    return sizes
