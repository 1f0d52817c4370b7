"""The text-reading stage of the general worker: pushed text as is, or fetch (SSRF-guarded) + extract.

An image, or a PDF with pages without a text layer, comes back `needs_ocr` and is handed to the OCR
queue, whose worker reads it with `sie.core.engine.jobs.ocr_reader.read_text_with_ocr`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sie.core.engine.jobs.claim import ClaimedJob
from sie.core.engine.jobs.stage import stage
from sie.core.errors import PermanentError
from sie.core.fetch import fetch_url
from sie.core.pipeline.extract import extract
from sie.core.pipeline.types import ExtractedText

TextReader = Callable[[ClaimedJob], ExtractedText]


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
    return extracted_text(job_content(job))


def extracted_text(content: JobContent) -> ExtractedText:
    with stage("extract"):
        return extract(content.data, declared_type=content.declared_type, filename=content.filename)
