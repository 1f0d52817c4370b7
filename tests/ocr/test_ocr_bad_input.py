"""Bad input ends in a failed job with a clear reason; the worker carries on with the next job."""

from __future__ import annotations

import struct
import time
import uuid
import zlib

import pytest

from bench.printed_text import encode, render_text_image
from sie.core.engine.ingest import NewDocument, ingest
from sie.core.engine.jobs.ocr_reader import read_text_with_ocr
from sie.core.engine.jobs.run import run_jobs
from tests.ocr.conftest import Uploader
from tests.utils.files import make_blank_pdf
from tests.worker.test_job_runner import RecordingQueue, job_row

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge canvas, followed by a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def failed_reason(uploader: Uploader, data: bytes, filename: str, **form: str) -> str:
    accepted = uploader.upload(data, filename, **form)
    uploader.process(accepted)
    job = uploader.job(accepted)
    assert job["status"] == "failed", job
    assert uploader.document(accepted)["status"] == "failed"
    return job["error"]


def test_corrupt_image_fails_with_the_reason(uploader: Uploader) -> None:
    reason = failed_reason(uploader, PNG_SIGNATURE + b"this is not image data" * 10, "broken.png")
    assert "image cannot be decoded" in reason


def test_truncated_image_fails_with_the_reason(uploader: Uploader) -> None:
    whole = encode(render_text_image(["Truncated upload"]), "PNG")
    reason = failed_reason(uploader, whole[: len(whole) // 2], "half.png")
    assert "image cannot be decoded" in reason and "truncated" in reason


@pytest.mark.parametrize(
    ("width", "height"),
    [(50_000, 50_000), (8_000, 8_000)],  # far over the cap, and just over it (64 of 50 megapixels)
)
def test_decompression_bomb_is_refused_before_decoding(uploader: Uploader, width: int, height: int) -> None:
    started = time.perf_counter()
    reason = failed_reason(uploader, png_declaring(width, height), "bomb.png")
    assert "OCR_MAX_PIXELS" in reason and f"{width * height} pixels" in reason
    assert time.perf_counter() - started < 10  # the pixels were never allocated


def test_zero_byte_upload_is_refused_and_an_empty_ocr_job_fails() -> None:
    queue = RecordingQueue()
    [submission] = ingest(
        queue,
        tenant=f"t-{uuid.uuid4().hex[:8]}",
        documents=[NewDocument(data=b"", filename="empty.png", content_type="image/png", kind="ocr")],
    )
    run_jobs([submission.job_id], queue=queue, reader=read_text_with_ocr)
    job = job_row(submission.job_id)
    assert job.status == "failed" and "empty" in (job.error or "")


def test_zero_byte_upload_is_rejected_by_the_api(uploader: Uploader) -> None:
    response = uploader.client.post(
        "/v1/documents/upload", files={"file": ("empty.png", b"")}, headers=uploader.key.headers
    )
    assert response.status_code == 422 and "empty" in response.text


def test_thousand_page_pdf_fails_with_the_page_cap(uploader: Uploader) -> None:
    reason = failed_reason(uploader, make_blank_pdf(1000), "huge.pdf", ocr_strategy="ocr_only")
    assert "1000 pages" in reason and "cap" in reason


def test_scanned_pdf_over_the_ocr_page_cap_fails_with_the_reason(uploader: Uploader) -> None:
    reason = failed_reason(uploader, make_blank_pdf(60), "long-scan.pdf")
    assert "60 PDF pages to OCR" in reason and "OCR_MAX_PAGES" in reason


def test_a_bad_job_does_not_stop_the_good_one_beside_it() -> None:
    queue = RecordingQueue()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    bad, good = ingest(
        queue,
        tenant=tenant,
        documents=[
            NewDocument(data=PNG_SIGNATURE + b"garbage", content_type="image/png", kind="ocr"),
            NewDocument(
                data=encode(render_text_image(["Lemon orchard"]), "PNG"), content_type="image/png", kind="ocr"
            ),
        ],
    )
    run_jobs([bad.job_id, good.job_id], queue=queue, reader=read_text_with_ocr)
    assert job_row(bad.job_id).status == "failed"
    assert job_row(good.job_id).status == "done"
