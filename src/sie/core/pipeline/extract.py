"""Turn raw bytes into text: the type is sniffed from the content itself, never taken from a name.

PDF text comes from its text layer (pages without one are left for OCR), HTML is reduced to its main
text, images are handed to OCR untouched, and anything else that decodes as text is plain text.
"""

from __future__ import annotations

import codecs
import html
import re
import threading
from pathlib import PurePath

import pypdfium2 as pdfium
from selectolax.lexbor import LexborHTMLParser, LexborNode

from sie.core.errors import ContentTooLarge, EmptyContent, UnsupportedContent
from sie.core.pipeline.types import ExtractedText, PageText


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
# A BMP starts with "BM", which plain text can too; the DIB header size at offset 14 confirms it.
BMP_DIB_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
# Formats we recognise but cannot read, so the error can say what the content was.
UNSUPPORTED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (or an Office document inside one)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office (OLE) document"),
)
TEXT_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Bytes that do not occur in text: C0 controls other than tab, newlines and form feed, and DEL.
CONTROL_BYTES = (frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D}) | {0x7F}
MAX_CONTROL_BYTE_RATIO = 0.05
SNIFF_BYTES = 1024

HTML_SNIFF = re.compile(
    r"<(?:!doctype\s+html|html|head|body|title|p|div|article|main|section|br|h[1-6]|table|ul|ol)[\s/>]",
    re.IGNORECASE,
)
ANY_TAG = re.compile(r"<[a-z!/][^<>]*>", re.IGNORECASE)
META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
DECLARED_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)

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

HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
BLANK_LINES = re.compile(r"\n{3,}")
# Every C0 control but tab and newline (NUL is removed before this applies), plus line separators.
CONTROL_CHARS = re.compile(r"[\x01-\x08\x0b-\x1f\x7f\u2028\u2029]")

# pdfium is not thread-safe, not even across documents.
PDFIUM_LOCK = threading.Lock()


def extract(
    content: bytes,
    *,
    declared_type: str | None = None,
    filename: str | None = None,
    max_pdf_pages: int = 500,
) -> ExtractedText:
    """Text of `content`, whose type is sniffed from its bytes.

    `declared_type` (a Content-Type header) only lends its charset and tells markup from text when the
    bytes alone are unclear; `filename` only names the content in errors and stands in for a missing
    title. Raises EmptyContent, UnsupportedContent or ContentTooLarge.
    """
    label = f" ({PurePath(filename).name})" if filename else ""
    fallback_title = PurePath(filename).name if filename else None
    if not content:
        raise EmptyContent(f"content is empty{label}")
    if content[:SNIFF_BYTES].lstrip().startswith(b"%PDF-"):
        return _extract_pdf(content, max_pdf_pages=max_pdf_pages, label=label, fallback_title=fallback_title)
    if image_type := sniff_image_type(content):
        return ExtractedText(text="", content_type=image_type, title=fallback_title, needs_ocr=True)
    for signature, description in UNSUPPORTED_SIGNATURES:
        if content.startswith(signature):
            raise UnsupportedContent(f"content is {description}, which has no extractable text{label}")
    text = decode_text(content, declared_type=declared_type)
    if _looks_like_html(text, declared_type):
        title, body = _extract_html(text)
        return _text_result(body, "text/html", title or fallback_title, label)
    plain = normalize_text(text)
    return _text_result(plain, "text/plain", _headline(plain) or fallback_title, label)


def sniff_image_type(content: bytes) -> str | None:
    """The image MIME type `content` starts with, or None."""
    for signature, image_type in IMAGE_SIGNATURES:
        if content.startswith(signature):
            return image_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[:2] == b"BM" and int.from_bytes(content[14:18], "little") in BMP_DIB_HEADER_SIZES:
        return "image/bmp"
    return None


def decode_text(content: bytes, *, declared_type: str | None = None) -> str:
    """Decode text: BOM, UTF-8, the declared or <meta> charset, then cp1252; never fails on bad bytes.

    Content that is not text at all (many control bytes and no BOM) raises UnsupportedContent.
    """
    for bom, encoding in TEXT_BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, errors="replace")
    sample = content[: SNIFF_BYTES * 8]
    control_bytes = sum(1 for byte in sample if byte in CONTROL_BYTES)
    if control_bytes > len(sample) * MAX_CONTROL_BYTE_RATIO:
        raise UnsupportedContent(
            f"content looks binary ({control_bytes} control bytes in the first {len(sample)}) "
            "and is not a supported document or image type"
        )
    for encoding in ("utf-8", _declared_charset(content, declared_type)):
        if encoding is None:
            continue
        try:
            return content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    # UTF-8 with a few broken bytes stays UTF-8: read as cp1252 every other accent would turn to mojibake.
    as_utf8 = content.decode("utf-8", errors="replace")
    replaced = as_utf8.count("\ufffd")
    decoded_non_ascii = len(as_utf8) - len(as_utf8.encode("ascii", errors="ignore")) - replaced
    if decoded_non_ascii > replaced:
        return as_utf8
    # cp1252 leaves five byte values undefined; those become U+FFFD.
    return content.decode("cp1252", errors="replace")


def normalize_text(text: str) -> str:
    """Drop NULs and control characters, collapse spaces within lines and runs of blank lines."""
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_CHARS.sub(" ", text)
    lines = (HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _declared_charset(content: bytes, declared_type: str | None) -> str | None:
    if declared_type and (match := DECLARED_CHARSET.search(declared_type)):
        return match.group(1)
    if match := META_CHARSET.search(content[: SNIFF_BYTES * 2]):
        return match.group(1).decode("ascii")
    return None


def _looks_like_html(text: str, declared_type: str | None) -> bool:
    if HTML_SNIFF.search(text[:SNIFF_BYTES]):
        return True
    declared_html = bool(declared_type) and declared_type.split(";")[0].strip().lower() in (
        "text/html",
        "application/xhtml+xml",
    )
    return declared_html and ANY_TAG.search(text[:SNIFF_BYTES]) is not None


MAX_HEADLINE_CHARS = 150


def _headline(text: str) -> str | None:
    """A plain-text document's first line, when it reads as a headline above a body."""
    first, _, rest = text.partition("\n")
    first = first.strip()
    if rest.strip() and 0 < len(first) <= MAX_HEADLINE_CHARS and not first.endswith((".", ",", ";", ":")):
        return first
    return None


def _text_result(text: str, content_type: str, title: str | None, label: str) -> ExtractedText:
    if not text:
        raise EmptyContent(f"no text found in the {content_type} content{label}")
    return ExtractedText(text=text, content_type=content_type, title=title)


def _extract_html(markup: str) -> tuple[str | None, str]:
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
        return _single_line(content)
    title = parser.css_first("title")
    if title is not None:
        return _single_line(title.text())
    return None


def _single_line(text: str) -> str | None:
    return " ".join(text.replace("\x00", "").split()) or None


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


def _extract_pdf(
    content: bytes, *, max_pdf_pages: int, label: str, fallback_title: str | None
) -> ExtractedText:
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(content)
        except pdfium.PdfiumError as exc:
            raise UnsupportedContent(f"PDF cannot be read ({exc}){label}") from None
        try:
            page_count = len(document)
            if page_count > max_pdf_pages:
                raise ContentTooLarge(f"PDF has {page_count} pages, over the {max_pdf_pages}-page cap{label}")
            pages = tuple(
                PageText(number=index + 1, text=_pdf_page_text(document, index))
                for index in range(page_count)
            )
            title = _single_line(document.get_metadata_value("Title"))
        except pdfium.PdfiumError as exc:
            raise UnsupportedContent(f"PDF cannot be read ({exc}){label}") from None
        finally:
            document.close()
    pages_without_text = tuple(page.number for page in pages if not page.text)
    return ExtractedText(
        text="\n\n".join(page.text for page in pages if page.text),
        content_type="application/pdf",
        title=title or fallback_title,
        pages=pages,
        needs_ocr=bool(pages_without_text),
        pages_without_text=pages_without_text,
    )


def _pdf_page_text(document: pdfium.PdfDocument, index: int) -> str:
    page = document[index]
    try:
        text_page = page.get_textpage()
        try:
            return normalize_text(text_page.get_text_range())
        finally:
            text_page.close()
    finally:
        page.close()
