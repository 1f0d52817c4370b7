"""The OCR worker's text-reading stage: extract what has a text layer, OCR what has none.

OCR strategies, from the job option `ocr_strategy`:
- `auto`: keep the text layer; OCR images and the PDF pages that have no text layer.
- `ocr_only`: OCR every page of a PDF, ignoring its text layer.
- `no_ocr`: the text layer only; an image then has no text and its job fails saying so.

This module brings in the OCR stack (the `ocr` extra: EasyOCR, torch, Pillow, numpy): only the OCR
worker, and local mode when it meets an OCR job, import it.
"""

from __future__ import annotations

from sie.core.engine.jobs.claim import ClaimedJob
from sie.core.engine.jobs.readers import extracted_text, job_content, read_text
from sie.core.engine.jobs.stage import stage
from sie.core.logging import get_logger, timed
from sie.core.pipeline.ocr import ocr_image_bytes, ocr_pdf_pages, with_ocr_pages
from sie.core.pipeline.types import ExtractedText, PageText

log = get_logger(__name__)

PDF_TYPE = "application/pdf"


def read_text_with_ocr(job: ClaimedJob) -> ExtractedText:
    """The OCR worker's text reader: extract what has a text layer, OCR what has none."""
    if job.text is not None:
        return read_text(job)
    strategy = job.options.get("ocr_strategy", "auto")
    content = job_content(job)
    extracted = extracted_text(content)
    if not _wants_ocr(extracted, strategy):
        return extracted
    with stage("ocr"), timed() as timing:
        read = _ocr_pages(extracted, content.data, strategy)
    result = with_ocr_pages(extracted, read)
    log.info(
        "ocr_completed",
        job_id=str(job.job_id),
        strategy=strategy,
        pages=sum(1 for page in read if page.ocr_confidence is not None),
        characters=len(result.text),
        ocr_confidence=result.ocr_confidence,
        duration_ms=timing["duration_ms"],
    )
    return result


def _wants_ocr(extracted: ExtractedText, strategy: str) -> bool:
    if strategy == "no_ocr":
        return False
    return extracted.needs_ocr or (strategy == "ocr_only" and extracted.content_type == PDF_TYPE)


def _ocr_pages(extracted: ExtractedText, data: bytes, strategy: str) -> list[PageText]:
    """The pages OCR reads: an image's frames, or the PDF pages the strategy names."""
    if extracted.content_type != PDF_TYPE:
        return ocr_image_bytes(data)
    if strategy == "ocr_only":
        return ocr_pdf_pages(data, [page.number for page in extracted.pages])
    return ocr_pdf_pages(data, extracted.pages_without_text)
