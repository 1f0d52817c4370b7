"""The text-reading stage: what differs between the general worker and the OCR worker.

- `read_text` (general worker): pushed text as is, or fetch (SSRF-guarded) + extract. An image, or
  a PDF with pages without a text layer, comes back `needs_ocr` and is handed to the OCR queue.
- `read_text_with_ocr` (OCR worker): extract what has a text layer, OCR what has none, with the OCR
  stage of `sie.core.pipeline.ocr`.

OCR strategies, from the job option `ocr_strategy`:
- `auto`: keep the text layer; OCR images and the PDF pages that have no text layer.
- `ocr_only`: OCR every page of a PDF, ignoring its text layer.
- `no_ocr`: the text layer only; an image then has no text and its job fails saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sie.core.engine.jobs.claim import ClaimedJob
from sie.core.engine.jobs.stage import stage
from sie.core.errors import PermanentError
from sie.core.fetch import fetch_url
from sie.core.logging import get_logger, timed
from sie.core.pipeline.extract import extract
from sie.core.pipeline.ocr import ocr_image_bytes, ocr_pdf_pages, with_ocr_pages
from sie.core.pipeline.types import ExtractedText, PageText

log = get_logger(__name__)

TextReader = Callable[[ClaimedJob], ExtractedText]
PDF_TYPE = "application/pdf"


@dataclass(frozen=True)
class JobContent:
    """The bytes a job reads, with the type its sender declared and its file name, if any."""

    data: bytes
    declared_type: str | None = None
    filename: str | None = None


def job_content(job: ClaimedJob) -> JobContent:
    """The job's uploaded file, or what its URL serves (fetched now, SSRF-guarded)."""
    if job.blob is not None:
        return JobContent(job.blob, job.blob_content_type, job.blob_filename)
    if job.url is None:
        raise PermanentError("job has neither text, file nor URL")
    with stage("fetch"):
        fetched = fetch_url(job.url, headers=job.options.get("fetch_headers"))
    return JobContent(fetched.content, fetched.content_type)


def read_text(job: ClaimedJob) -> ExtractedText:
    """The general worker's first stages: pushed text as is, or fetch + extract."""
    if job.text is not None:
        return ExtractedText(text=job.text, content_type="text/plain", title=job.title)
    return _extracted(job_content(job))


def read_text_with_ocr(job: ClaimedJob) -> ExtractedText:
    """The OCR worker's text reader: extract what has a text layer, OCR what has none."""
    if job.text is not None:
        return read_text(job)
    strategy = job.options.get("ocr_strategy", "auto")
    content = job_content(job)
    extracted = _extracted(content)
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


def _extracted(content: JobContent) -> ExtractedText:
    with stage("extract"):
        return extract(content.data, declared_type=content.declared_type, filename=content.filename)


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
