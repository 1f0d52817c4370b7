"""HTML to its title and main text: navigation, scripts and side forms dropped, paragraphs kept."""

from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from sie.core.pipeline.sniff import HTML_SNIFF, SNIFF_BYTES
from sie.core.pipeline.text import HORIZONTAL_SPACE, normalize_text, single_line


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
MAIN_CONTENT_SELECTORS = ("article", "main", "[role=main]")
# Marks block boundaries inside the parsed tree; a private-use character, removed from input first.
PARAGRAPH_MARK = "\ue000"

# HTML parsing costs time quadratic in nesting depth (the tree builder scans the stack of open
# elements for each new block); past this depth a linear tag-stripping fallback is used instead.
MAX_PARSED_HTML_DEPTH = 10_000
# Elements that never nest (void) or that the parser closes implicitly, so they do not add depth.
NON_NESTING_TAGS = _words(
    "area base br col embed hr img input link meta param source track wbr "
    "p li dt dd option optgroup tr td th thead tbody tfoot rt rp"
)
TAG_NAME = re.compile(r"<(/?)([a-z][a-z0-9-]*)", re.IGNORECASE)


def looks_like_html(text: str, declared_type: str | None) -> bool:
    """Markup by its first tags, or any tag at all when the content was declared HTML."""
    if HTML_SNIFF.search(text[:SNIFF_BYTES]):
        return True
    declared_html = bool(declared_type) and declared_type.split(";")[0].strip().lower() in HTML_TYPES
    return declared_html and ANY_TAG.search(text[:SNIFF_BYTES]) is not None


def html_title_and_text(markup: str) -> tuple[str | None, str]:
    """Title and main text of an HTML document, paragraphs separated by blank lines."""
    markup = markup.replace("\x00", "").replace(PARAGRAPH_MARK, " ")
    if _nesting_depth(markup) > MAX_PARSED_HTML_DEPTH:
        return None, _text_by_stripping_tags(markup)
    parser = LexborHTMLParser(markup)
    title = _html_title(parser)
    parser.strip_tags(DROPPED_HTML_TAGS)
    _drop_side_forms(parser)
    for block in parser.css(BLOCK_SELECTOR):
        block.insert_before(PARAGRAPH_MARK)
        block.insert_after(PARAGRAPH_MARK)
    for candidate in _main_content_candidates(parser):
        text = _paragraphs(candidate.text(deep=True))
        if text:
            return title, text
    return title, ""


def _html_title(parser: LexborHTMLParser) -> str | None:
    og_title = parser.css_first('meta[property="og:title"]')
    if og_title is not None and (content := og_title.attributes.get("content")):
        return single_line(content)
    title = parser.css_first("title")
    if title is not None:
        return single_line(title.text())
    return None


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


def _main_content_candidates(parser: LexborHTMLParser) -> list[LexborNode]:
    candidates = [parser.css_first(selector) for selector in MAIN_CONTENT_SELECTORS]
    return [node for node in (*candidates, parser.body) if node is not None]


def _paragraphs(marked_text: str) -> str:
    paragraphs = (
        HORIZONTAL_SPACE.sub(" ", part.replace("\n", " ")).strip()
        for part in marked_text.split(PARAGRAPH_MARK)
    )
    return normalize_text("\n\n".join(paragraph for paragraph in paragraphs if paragraph))


def _nesting_depth(markup: str) -> int:
    """A cheap, linear estimate of the element nesting depth of `markup`."""
    depth = deepest = 0
    for match in TAG_NAME.finditer(markup):
        if match.group(2).lower() in NON_NESTING_TAGS:
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _text_by_stripping_tags(markup: str) -> str:
    """Text of pathologically nested HTML in linear time: block tags end paragraphs, other tags go."""

    def replace_tag(match: re.Match[str]) -> str:
        name = TAG_NAME.match(match.group(0))
        return PARAGRAPH_MARK if name and name.group(2).lower() in BLOCK_HTML_TAGS else " "

    return _paragraphs(html.unescape(ANY_TAG.sub(replace_tag, markup)))
