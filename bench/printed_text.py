"""Images with known printed text, drawn with Pillow, and scanned PDFs (pages that are only a picture).

The OCR tests, `bench/ocr.py` and `bench/make_sample_images.py` all draw their text with this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

# Debian's fonts-dejavu-core: a clear sans-serif with a real TrueType outline at any size.
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MARGIN = 30
LINE_SPACING = 1.6


def render_text_image(
    lines: Sequence[str], *, font_size: int = 40, width: int | None = None, height: int | None = None
) -> Image.Image:
    """Black text on white paper, one entry of `lines` per printed line."""
    if not FONT_PATH.exists():
        raise FileNotFoundError(f"{FONT_PATH} is missing: apt-get install -y fonts-dejavu-core")
    font = ImageFont.truetype(str(FONT_PATH), font_size)
    line_height = round(font_size * LINE_SPACING)
    width = width or 2 * MARGIN + round(max(font.getlength(line) for line in lines))
    height = height or 2 * MARGIN + line_height * len(lines)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + index * line_height), line, font=font, fill=0)
    return image


def encode(image: Image.Image, image_format: str) -> bytes:
    """The image as a file of `image_format` (PNG, JPEG, TIFF, WEBP...)."""
    buffer = BytesIO()
    options = {"quality": 90} if image_format in ("JPEG", "WEBP") else {}
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def scanned_pdf(pages: Sequence[Image.Image], *, dpi: int = 150) -> bytes:
    """A PDF whose pages are the given pictures and nothing else: no text layer, as a scanner writes."""
    buffer = BytesIO()
    first, *rest = [page.convert("RGB") for page in pages]
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=dpi)
    return buffer.getvalue()


def concatenate_pdfs(*documents: bytes) -> bytes:
    """One PDF with the pages of each document in turn (e.g. a typed page followed by a scanned one)."""
    combined = pdfium.PdfDocument.new()
    for data in documents:
        part = pdfium.PdfDocument(data)
        combined.import_pages(part)
        part.close()
    buffer = BytesIO()
    combined.save(buffer)
    combined.close()
    return buffer.getvalue()


def words_found(expected: str, text: str) -> float:
    """The share of the words of `expected` that appear in `text`, ignoring case."""
    found = set(re.findall(r"[a-z0-9]+", text.lower()))
    words = re.findall(r"[a-z0-9]+", expected.lower())
    return sum(1 for word in words if word in found) / len(words)
