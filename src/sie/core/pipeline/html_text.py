"""HTML to its title, metadata and main text: navigation, scripts, side forms and teaser cards dropped."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from sie.core.pipeline.html_article import MAX_ARTICLE_ELEMENTS, article_text, teaser_cards
from sie.core.pipeline.html_meta import page_title_and_metadata
from sie.core.pipeline.sniff import HTML_SNIFF, SNIFF_BYTES
from sie.core.pipeline.text import HORIZONTAL_SPACE, normalize_text
from sie.core.pipeline.types import PageMetadata


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ANY_TAG = re.compile(r"<[a-z!/][^<>]*>", re.IGNORECASE)
HTML_TYPES = ("text/html", "application/xhtml+xml")
DROPPED_HTML_TAGS = ["script", "style", "noscript", "nav", "header", "footer", "aside", "svg", "template"]
BLOCK_HTML_TAGS = _words(
    "address article blockquote br dd div dl dt figcaption figure h1 h2 h3 h4 h5 h6 hr li main ol p pre "
    "section table td th tr ul"
)
BLOCK_SELECTOR = ", ".join(sorted(BLOCK_HTML_TAGS))
BLOCK_TAG = re.compile(rf"</?(?:{'|'.join(sorted(BLOCK_HTML_TAGS))})(?![a-z0-9-])[^<>]*>", re.IGNORECASE)
MAIN_CONTENT_SELECTORS = ("main", "[role=main]")
# Below this many characters trafilatura's text is checked against this module's reading.
SHORT_TEXT_CHARS = 250
# Marks block boundaries inside the parsed tree; a private-use character, removed from input first.
PARAGRAPH_MARK = "\ue000"

# HTML parsing costs time quadratic in nesting depth (the tree builder scans the stack of open
# elements for each new block, and reopens unclosed formatting tags in each: 9,000 open <b>s before
# 200,000 paragraphs take lexbor 5 s); past this depth, or this product of depth and elements, a
# linear tag-stripping fallback is used instead.
MAX_PARSED_HTML_DEPTH = 10_000
MAX_PARSE_WORK = 200_000_000
# lexbor holds about 650 bytes per element with its text: 2 million table cells take it 6.5 s and
# 1.3 GiB. No real page comes near this many elements.
MAX_PARSED_ELEMENTS = 300_000
# Elements that never nest (void) or that the parser closes implicitly, so they do not add depth.
NON_NESTING_TAGS = _words(
    "area base br col embed hr img input link meta param source track wbr "
    "p li dt dd option optgroup tr td th thead tbody tfoot rt rp"
)
TAG_NAME = re.compile(r"<(/?)([a-z][a-z0-9-]*)", re.IGNORECASE)
RAW_TEXT_START = re.compile(r"<(script|style)\b[^<>]*>")
# Parsers compare each attribute with the element's others (time quadratic in their number: 50,000
# on one element take lexbor 7 s); no real element has this many, so such a tag is read bare.
MAX_TAG_ATTRIBUTES = 100
LONG_TAG = re.compile(r"<([a-z][a-z0-9-]*)([^<>]{400,})>", re.IGNORECASE)
# lexbor takes time quadratic in the <option>s of an open <select> (40,000 take 6 s); options are
# form controls, never article text, so their tags are dropped before parsing.
OPTION_TAG = re.compile(r"</?option\b[^<>]*>", re.IGNORECASE)


def looks_like_html(text: str, declared_type: str | None) -> bool:
    """Markup by its first tags, or any tag at all when the content was declared HTML."""
    if HTML_SNIFF.search(text[:SNIFF_BYTES]):
        return True
    declared_html = bool(declared_type) and declared_type.split(";")[0].strip().lower() in HTML_TYPES
    return declared_html and ANY_TAG.search(text[:SNIFF_BYTES]) is not None


@dataclass(frozen=True)
class HtmlReading:
    """What an HTML page holds: its title, main text and metadata."""

    title: str | None
    text: str
    metadata: PageMetadata = field(default_factory=PageMetadata)


def read_html(markup: str) -> HtmlReading:
    """Title, metadata and main text of an HTML document, paragraphs separated by blank lines.

    The main text is trafilatura's (`html_article`) on pages of up to MAX_ARTICLE_ELEMENTS; bigger
    pages, and pages it finds no text in, get this module's linear-time reading (`_main_text`).
    """
    markup = _defused(markup.replace("\x00", "").replace(PARAGRAPH_MARK, " "))
    depth, elements = _markup_shape(markup)
    if depth > MAX_PARSED_HTML_DEPTH or elements > MAX_PARSED_ELEMENTS or depth * elements > MAX_PARSE_WORK:
        return HtmlReading(None, _text_by_stripping_tags(markup))
    parser = LexborHTMLParser(markup)
    title, metadata = page_title_and_metadata(parser)
    text = article_text(markup) if elements <= MAX_ARTICLE_ELEMENTS else ""
    if len(text) >= SHORT_TEXT_CHARS:
        return HtmlReading(title, text, metadata)
    # On a short page trafilatura falls back to whatever text there is, navigation included: a page
    # whose every word is boilerplate has no main text.
    own = _main_text(parser)
    return HtmlReading(title, (text or own) if own else "", metadata)


def _main_text(parser: LexborHTMLParser) -> str:
    """The text of the page's main container, boilerplate elements and side forms removed."""
    parser.strip_tags(DROPPED_HTML_TAGS)
    _drop_side_forms(parser)
    story = _story_article(parser)
    for block in parser.css(BLOCK_SELECTOR):
        block.insert_before(PARAGRAPH_MARK)
        block.insert_after(PARAGRAPH_MARK)
    candidates = [story, *(parser.css_first(selector) for selector in MAIN_CONTENT_SELECTORS), parser.body]
    for candidate in candidates:
        text = _paragraphs(candidate.text(deep=True)) if candidate is not None else ""
        if text:
            return text
    return ""


def _drop_side_forms(parser: LexborHTMLParser) -> None:
    # Search boxes and sign-up forms are boilerplate, but some sites (ASP.NET WebForms) wrap the
    # whole page in one <form>: only forms holding less than half of the page's text are dropped.
    body = parser.body
    if body is None:
        return
    page_length = len(body.text(deep=True))
    for form in parser.css("form"):
        if len(form.text(deep=True)) * 2 < page_length:
            form.decompose()


def _story_article(parser: LexborHTMLParser) -> LexborNode | None:
    """Remove the teaser cards; the one outermost <article> that holds the story, if one does."""
    nested = {node.mem_id for node in parser.css("article article")}
    outer = [node for node in parser.css("article") if node.mem_id not in nested]
    sizes = [len(node.text(deep=True)) for node in outer]
    body = parser.body
    cards = teaser_cards(sizes, len(body.text(deep=True)) if body else 0)
    for index, node in enumerate(outer):
        if index != cards.main and sizes[index] < cards.below:
            node.decompose()
    return outer[cards.main] if cards.main is not None else None


def _paragraphs(marked_text: str) -> str:
    paragraphs = (
        HORIZONTAL_SPACE.sub(" ", part.replace("\n", " ")).strip()
        for part in marked_text.split(PARAGRAPH_MARK)
    )
    return normalize_text("\n\n".join(paragraph for paragraph in paragraphs if paragraph))


def _defused(markup: str) -> str:
    """`markup` without what makes parsers take quadratic time: crowds of attributes, <option> tags."""
    markup = OPTION_TAG.sub(" ", markup)
    return LONG_TAG.sub(
        lambda tag: tag.group(0) if tag.group(2).count("=") <= MAX_TAG_ATTRIBUTES else f"<{tag.group(1)}>",
        markup,
    )


def _markup_shape(markup: str) -> tuple[int, int]:
    """A cheap, linear estimate of the element nesting depth of `markup`, and its count of elements."""
    depth = deepest = elements = 0
    for match in TAG_NAME.finditer(markup):
        if not match.group(1):
            elements += 1
        if match.group(2).lower() in NON_NESTING_TAGS:
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest, elements


def _text_by_stripping_tags(markup: str) -> str:
    """Text of pathological HTML in linear time: scripts and styles go, block tags end paragraphs,
    other tags go."""
    marked = BLOCK_TAG.sub(PARAGRAPH_MARK, _without_raw_text(markup))
    return _paragraphs(html.unescape(ANY_TAG.sub(" ", marked)))


def _without_raw_text(markup: str) -> str:
    """`markup` without the contents of <script> and <style>, which end only at their own end tag."""
    lowered, kept, position = markup.lower(), [], 0
    while (start := RAW_TEXT_START.search(lowered, position)) is not None:
        kept.append(markup[position : start.start()])
        end = lowered.find(f"</{start.group(1)}", start.end())
        if end < 0:
            return "".join(kept)
        position = end
    kept.append(markup[position:])
    return "".join(kept)
