"""Content type from the bytes themselves (magic numbers and markup), never from a file name."""

from __future__ import annotations

import re

IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_HTML_START = re.compile(
    rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--|<(p|div|article|h[1-6]|title|meta)\b)", re.I
)
_HTML_ANYWHERE = re.compile(rb"<(html|body|article|p|div|br|h[1-6])[\s>/]", re.I)
# Bytes that never appear in text: a file full of them is binary, not a document.
_BINARY_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32))

TEXT_TYPES = frozenset({"text/plain", "text/html"})
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
    head = data[:2048]
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    body = head.lstrip(b"\xef\xbb\xbf")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text/plain"  # UTF-16 text with a BOM
    if sum(body.count(bytes([byte])) for byte in _BINARY_CONTROL) > max(2, len(body) // 100):
        return None
    if _HTML_START.match(body) or _HTML_ANYWHERE.search(body):
        return "text/html"
    return "text/plain"


def is_image(content_type: str | None) -> bool:
    return bool(content_type and content_type.startswith("image/"))
