"""Content type from the bytes themselves, never from a file name: what the upload route accepts.

The signatures live with the extractor (`sie.core.pipeline.extract`), so what the API accepts is
exactly what the worker can read.
"""

from __future__ import annotations

from sie.core.pipeline.extract import (
    CONTROL_BYTES,
    HTML_SNIFF,
    MAX_CONTROL_BYTE_RATIO,
    SNIFF_BYTES,
    TEXT_BOMS,
    UNSUPPORTED_SIGNATURES,
    sniff_image_type,
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
    if head.lstrip().startswith(b"%PDF-"):
        return "application/pdf"
    if image_type := sniff_image_type(data):
        return image_type
    if any(data.startswith(signature) for signature, _ in UNSUPPORTED_SIGNATURES):
        return None
    if not any(head.startswith(bom) for bom, _ in TEXT_BOMS):
        control_bytes = sum(1 for byte in head if byte in CONTROL_BYTES)
        if control_bytes > MAX_CONTROL_BYTE_RATIO * max(1, len(head)):
            return None
    return "text/html" if HTML_SNIFF.search(head.decode("utf-8", "replace")) else "text/plain"


def is_image(content_type: str | None) -> bool:
    return bool(content_type and content_type.startswith("image/"))
