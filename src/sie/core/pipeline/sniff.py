"""Content type from the bytes themselves, never from a file name.

The extractor (`sie.core.pipeline.extract`) and the upload route (`sniff_content_type`) read the same
signatures, so what the API accepts is exactly what the worker can read.
"""

from __future__ import annotations

import codecs
import re

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

SUPPORTED_TYPES = frozenset(
    {
        "text/plain",
        "text/html",
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/tiff",
        "image/gif",
        "image/bmp",
        "image/webp",
    }
)


def sniff_content_type(data: bytes) -> str | None:
    """The type of `data`, or None when it is binary of a kind SIE cannot read."""
    head = data[:SNIFF_BYTES]
    if is_pdf(data):
        return "application/pdf"
    if image_type := sniff_image_type(data):
        return image_type
    if unsupported_format(data):
        return None
    if not any(head.startswith(bom) for bom, _ in TEXT_BOMS):
        control_bytes = sum(1 for byte in head if byte in CONTROL_BYTES)
        if control_bytes > MAX_CONTROL_BYTE_RATIO * max(1, len(head)):
            return None
    return "text/html" if HTML_SNIFF.search(head.decode("utf-8", "replace")) else "text/plain"


def is_pdf(content: bytes) -> bool:
    return content[:SNIFF_BYTES].lstrip().startswith(b"%PDF-")


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


def unsupported_format(content: bytes) -> str | None:
    """What `content` is when it is a format we recognise but cannot read (an archive, say), or None."""
    return next(
        (description for signature, description in UNSUPPORTED_SIGNATURES if content.startswith(signature)),
        None,
    )


def is_image(content_type: str | None) -> bool:
    return bool(content_type and content_type.startswith("image/"))
