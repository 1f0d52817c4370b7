"""The upload rules, once: what an uploaded file becomes, for the API's upload route and `sie ingest`.

The type comes from the bytes, never from the file name or the type the client declares. Images,
and any file sent with `ocr_strategy=ocr_only`, go straight to the OCR queue; everything else goes to
the general worker, which sends a PDF on to OCR when pages lack a text layer (unless `no_ocr`).
An image with `no_ocr` is refused, since it has no text without OCR (docs/ocr.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sie.core.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from sie.core.models import JobKind
from sie.core.pipeline.sniff import SUPPORTED_TYPES, is_image, sniff_content_type
from sie.core.schemas import OcrStrategyName

MAX_FILENAME_CHARS = 500
UNSUPPORTED_FILE_REASON = (
    "unsupported file type: send plain text, HTML, PDF or an image (PNG, JPEG, TIFF, WebP)"
)


@dataclass(frozen=True)
class UploadPlan:
    """What to store for an accepted file, and which kind of job (so which queue) reads it."""

    content_type: str
    filename: str | None
    kind: JobKind


def plan_upload(
    data: bytes, *, filename: str | None, ocr_strategy: OcrStrategyName, max_bytes: int
) -> UploadPlan:
    """The plan for one uploaded file, or the error that refuses it (413, 415 or 422)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"file exceeds {max_bytes} bytes")
    if not data:
        raise InvalidRequest("file: the uploaded file is empty")
    content_type = sniff_content_type(data)
    if content_type is None or content_type not in SUPPORTED_TYPES:
        raise UnsupportedMediaType(UNSUPPORTED_FILE_REASON)
    image = is_image(content_type)
    if image and ocr_strategy == "no_ocr":
        raise InvalidRequest("ocr_strategy: an image needs OCR")
    return UploadPlan(
        content_type=content_type,
        filename=(filename or "")[:MAX_FILENAME_CHARS] or None,
        kind=JobKind.ocr if image or ocr_strategy == "ocr_only" else JobKind.ingest,
    )
