"""Turn raw bytes into text: the type is sniffed from the content itself, never taken from a name.

PDF text comes from its text layer (pages without one are left for OCR), HTML is reduced to its main
text and metadata (`html_text`), images are handed to OCR untouched, and anything else that decodes as text
(`text`) is plain text.
"""

from __future__ import annotations

import threading
from pathlib import PurePath

import pypdfium2 as pdfium

from sie.core.errors import ContentTooLarge, EmptyContent, UnsupportedContent
from sie.core.pipeline.html_text import looks_like_html, read_html
from sie.core.pipeline.sniff import is_pdf, sniff_image_type, unsupported_format
from sie.core.pipeline.text import decode_text, normalize_text, single_line
from sie.core.pipeline.types import ExtractedText, PageMetadata, PageText

MAX_HEADLINE_CHARS = 150
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
    if is_pdf(content):
        return _extract_pdf(content, max_pdf_pages=max_pdf_pages, label=label, fallback_title=fallback_title)
    if image_type := sniff_image_type(content):
        return ExtractedText(text="", content_type=image_type, title=fallback_title, needs_ocr=True)
    if description := unsupported_format(content):
        raise UnsupportedContent(f"content is {description}, which has no extractable text{label}")
    text = decode_text(content, declared_type=declared_type)
    if looks_like_html(text, declared_type):
        page = read_html(text)
        return _text_result(page.text, "text/html", page.title or fallback_title, label, page.metadata)
    plain = normalize_text(text)
    return _text_result(plain, "text/plain", _headline(plain) or fallback_title, label)


def _headline(text: str) -> str | None:
    """A plain-text document's first line, when it reads as a headline above a body."""
    first, _, rest = text.partition("\n")
    first = first.strip()
    if rest.strip() and 0 < len(first) <= MAX_HEADLINE_CHARS and not first.endswith((".", ",", ";", ":")):
        return first
    return None


def _text_result(
    text: str, content_type: str, title: str | None, label: str, metadata: PageMetadata | None = None
) -> ExtractedText:
    if not text:
        raise EmptyContent(f"no text found in the {content_type} content{label}")
    return ExtractedText(
        text=text, content_type=content_type, title=title, metadata=metadata or PageMetadata()
    )


def _extract_pdf(
    content: bytes, *, max_pdf_pages: int, label: str, fallback_title: str | None
) -> ExtractedText:
    with PDFIUM_LOCK:
        document = open_pdf(content, label)
        try:
            page_count = len(document)
            if page_count > max_pdf_pages:
                raise ContentTooLarge(f"PDF has {page_count} pages, over the {max_pdf_pages}-page cap{label}")
            pages = tuple(
                PageText(number=index + 1, text=_pdf_page_text(document, index))
                for index in range(page_count)
            )
            title = single_line(document.get_metadata_value("Title"))
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


def open_pdf(content: bytes, label: str = "") -> pdfium.PdfDocument:
    """`content` as a pdfium document, for a caller that holds PDFIUM_LOCK. Raises UnsupportedContent."""
    try:
        return pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        raise UnsupportedContent(f"PDF cannot be read ({exc}){label}") from None


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
