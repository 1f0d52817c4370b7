"""OCR as a pure stage: image and scanned-PDF bytes become pages of text (`PageText`).

Images are opened from their header and refused before decoding when over the pixel cap; PDF pages
are rendered one at a time under the same cap. The model's boxes become lines in reading order;
words under OCR_CONFIDENCE_FLOOR are kept aside. The model itself lives in `ocr_engine`.

Bad input never crashes a worker: empty, corrupt or truncated images, decompression bombs and
over-long PDFs raise a `PermanentError` subclass, and the job ends `failed` with the reason.
"""

from __future__ import annotations

import math
import struct
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from io import BytesIO
from typing import Any, NamedTuple

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from sie.core.config import settings
from sie.core.errors import ContentTooLarge, EmptyContent, UnsupportedContent
from sie.core.logging import get_logger
from sie.core.pipeline.extract import PDFIUM_LOCK, open_pdf
from sie.core.pipeline.ocr_engine import read_boxes
from sie.core.pipeline.types import ExtractedText, OcrWord, PageText

log = get_logger(__name__)

# Scans are read best around 300 dpi; OCR_MAX_SIDE lowers that for large pages.
RENDER_DPI = 300
POINTS_PER_INCH = 72
# What PIL raises for malformed image data, depending on the format and where the damage is.
IMAGE_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)

# From the header, before decoding: PIL refuses images over twice this (DecompressionBombError) and
# only warns over it; `_check_pixels` refuses anything over OCR_MAX_PIXELS, so the warning adds nothing.
Image.MAX_IMAGE_PIXELS = settings.ocr_max_pixels
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def ocr_image_bytes(data: bytes) -> list[PageText]:
    """OCR an image file; each frame of a multi-page TIFF is a page."""
    image = open_image(data)
    frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
    _check_page_count(frames, "image frames")
    pages = []
    for index in range(frames):
        try:
            image.seek(index)
        except IMAGE_DECODE_ERRORS as exc:
            raise UnsupportedContent(f"image frame {index + 1} cannot be decoded ({exc})") from None
        _check_pixels(image.width, image.height)
        pages.append(ocr_image(_decoded(image), number=index + 1))
    return pages


def ocr_pdf_pages(pdf_bytes: bytes, pages: Sequence[int]) -> list[PageText]:
    """OCR the given 1-based pages of a PDF, rendered under the pixel cap, one page in memory at a time."""
    _check_page_count(len(pages), "PDF pages to OCR")
    return [ocr_image(image, number=number) for number, image in _rendered_pages(pdf_bytes, pages)]


def open_image(data: bytes) -> Image.Image:
    """Open an image from its header only; bombs and unreadable data raise before decoding."""
    if not data:
        raise EmptyContent("image is empty (0 bytes)")
    try:
        image = Image.open(BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ContentTooLarge(
            f"image is over the OCR_MAX_PIXELS cap of {settings.ocr_max_pixels}: {exc}"
        ) from None
    except UnidentifiedImageError:
        raise UnsupportedContent("image cannot be decoded (no image format recognises its data)") from None
    except IMAGE_DECODE_ERRORS as exc:
        raise UnsupportedContent(f"image cannot be decoded ({exc})") from None
    _check_pixels(image.width, image.height)
    return image


def ocr_image(image: Image.Image, *, number: int = 1) -> PageText:
    """OCR one page image: words at or above OCR_CONFIDENCE_FLOOR make the text, the rest are kept aside."""
    pixels = _ocr_input(image)
    boxes = read_boxes(pixels)
    page = page_from_boxes(boxes.results, number=number, floor=settings.ocr_confidence_floor)
    log.debug(
        "ocr_page_read",
        page=number,
        width=pixels.shape[1],
        height=pixels.shape[0],
        detect_scale=boxes.detect_scale,
        boxes=len(boxes.results),
        ocr_confidence=page.ocr_confidence,
        duration_ms=boxes.duration_ms,
    )
    return page


def _check_page_count(count: int, what: str) -> None:
    if count > settings.ocr_max_pages:
        raise ContentTooLarge(f"{count} {what}, over the OCR_MAX_PAGES cap of {settings.ocr_max_pages}")


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise UnsupportedContent(f"image has no pixels ({width}x{height})")
    if width * height > settings.ocr_max_pixels:
        raise ContentTooLarge(
            f"image is {width}x{height} ({width * height} pixels), "
            f"over the OCR_MAX_PIXELS cap of {settings.ocr_max_pixels}"
        )


def _decoded(image: Image.Image) -> Image.Image:
    """Decode the current frame fully, so truncated or corrupt data fails here with a clear reason."""
    if image.format == "JPEG":
        # Let libjpeg decode at a reduced scale straight away when the image is larger than OCR needs.
        image.draft("L", (settings.ocr_max_side, settings.ocr_max_side))
    try:
        image.load()
    except IMAGE_DECODE_ERRORS as exc:
        raise UnsupportedContent(f"image cannot be decoded ({exc})") from None
    return image


def _ocr_input(image: Image.Image) -> np.ndarray:
    """Greyscale pixels with the long side at most OCR_MAX_SIDE; transparency becomes white paper."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    grey = image.convert("L")
    if max(grey.size) > settings.ocr_max_side:
        scale = settings.ocr_max_side / max(grey.size)
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.LANCZOS
        )
    return np.asarray(grey)


def _rendered_pages(pdf_bytes: bytes, numbers: Sequence[int]) -> Iterator[tuple[int, Image.Image]]:
    # pdfium is not thread-safe: every call holds the lock, but OCR of a rendered page does not.
    with PDFIUM_LOCK:
        document = open_pdf(pdf_bytes)
    try:
        for number in numbers:
            with PDFIUM_LOCK:
                if not 1 <= number <= len(document):
                    raise UnsupportedContent(f"PDF has no page {number}")
                image = _render_page(document[number - 1], number)
            yield number, image
    finally:
        with PDFIUM_LOCK:
            document.close()


def _render_page(page: pdfium.PdfPage, number: int) -> Image.Image:
    try:
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise UnsupportedContent(f"PDF page {number} has no area ({width}x{height} pt)")
        scale = min(
            RENDER_DPI / POINTS_PER_INCH,
            settings.ocr_max_side / max(width, height),
            math.sqrt(settings.ocr_max_pixels / (width * height)),
        )
        return page.render(scale=scale, grayscale=True).to_pil()
    except pdfium.PdfiumError as exc:
        raise UnsupportedContent(f"PDF page {number} cannot be rendered ({exc})") from None
    finally:
        page.close()


class _Box(NamedTuple):
    top: float
    bottom: float
    left: float
    text: str
    confidence: float


def page_from_boxes(results: Sequence[Any], *, number: int, floor: float) -> PageText:
    """A page from EasyOCR's (box, text, confidence) results: boxes in reading order, one line per row."""
    kept_lines: list[str] = []
    low_confidence: list[OcrWord] = []
    weighted = characters = 0.0
    for line in _reading_order(results):
        kept = []
        for text, confidence in line:
            weighted += confidence * len(text)
            characters += len(text)
            if confidence >= floor:
                kept.append(text)
            else:
                low_confidence.append(OcrWord(text=text, confidence=round(confidence, 3)))
        if kept:
            kept_lines.append(" ".join(kept))
    return PageText(
        number=number,
        text="\n".join(kept_lines),
        ocr_confidence=round(weighted / characters, 3) if characters else 0.0,
        low_confidence_words=tuple(low_confidence),
    )


def document_confidence(pages: Sequence[PageText]) -> float | None:
    """Mean OCR confidence over the OCR-read pages, weighted by the characters each recognised."""
    weighted = characters = 0.0
    for page in pages:
        if page.ocr_confidence is None:
            continue
        recognised = len(page.text) + sum(len(word.text) for word in page.low_confidence_words)
        weighted += page.ocr_confidence * recognised
        characters += recognised
    if characters:
        return round(weighted / characters, 3)
    return 0.0 if any(page.ocr_confidence is not None for page in pages) else None


def with_ocr_pages(extracted: ExtractedText, read: Sequence[PageText]) -> ExtractedText:
    """`extracted` with the OCR-read pages in place of (or added to) its text-layer pages."""
    by_number = {page.number: page for page in extracted.pages} | {page.number: page for page in read}
    pages = [by_number[number] for number in sorted(by_number)]
    return replace(
        extracted,
        text="\n\n".join(page.text for page in pages if page.text),
        pages=tuple(pages),
        needs_ocr=False,
        pages_without_text=(),
        ocr_confidence=document_confidence(pages),
    )


def _reading_order(results: Sequence[Any]) -> list[list[tuple[str, float]]]:
    """Rows of (text, confidence), top to bottom, each left to right.

    A box joins the row above when its vertical centre lies within that row's span.
    """
    boxes = []
    for corners, raw_text, confidence in results:
        text = " ".join(str(raw_text).split())
        if text:
            xs, ys = [float(point[0]) for point in corners], [float(point[1]) for point in corners]
            boxes.append(_Box(min(ys), max(ys), min(xs), text, float(confidence)))
    boxes.sort(key=lambda box: box.top + box.bottom)
    rows: list[list[_Box]] = []
    for box in boxes:
        centre = (box.top + box.bottom) / 2
        if rows and rows[-1][0].top <= centre <= max(member.bottom for member in rows[-1]):
            rows[-1].append(box)
        else:
            rows.append([box])
    return [[(box.text, box.confidence) for box in sorted(row, key=lambda box: box.left)] for row in rows]
