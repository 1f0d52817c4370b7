"""The upload rules live once (`sie.core.pipeline.uploads`): the API's upload route and `sie ingest`'s
direct path take every file type under every OCR strategy the same way, as docs/ocr.md promises."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest
from fastapi.testclient import TestClient

from sie.core.db import session_scope
from sie.core.models import DocumentBlob, Job
from sie.core.pipeline.uploads import UNSUPPORTED_FILE_REASON
from sie.core.queues import QUEUE_NORMAL, QUEUE_OCR
from sie.core.schemas import OcrStrategyName
from sie.ingest_client import DirectSender, FileUpload, Outcome, RemoteSender, Sender
from tests.utils.api import make_key
from tests.utils.files import make_blank_pdf, make_png, make_text_pdf

FILES: dict[str, tuple[str, bytes]] = {
    "text": ("notes.txt", b"Plain words about the harbour ferry timetable.\n"),
    "html": ("page.html", b"<html><body><p>The harbour ferry timetable.</p></body></html>"),
    "pdf-with-text": ("report.pdf", make_text_pdf(["Quarterly harbour report"])),
    "scanned-pdf": ("scan.pdf", make_blank_pdf(1)),
    "png": ("photo.png", make_png()),
    "jpeg": ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)),
    "unsupported": ("archive.zip", b"PK\x03\x04" + bytes(64)),
    "empty": ("empty.txt", b""),
}
CONTENT_TYPES = {
    "text": "text/plain",
    "html": "text/html",
    "pdf-with-text": "application/pdf",
    "scanned-pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
}
IMAGE_NEEDS_OCR = "422: ocr_strategy: an image needs OCR"


@dataclass(frozen=True)
class Taken:
    """What an accepted upload became: the stored type and the job's kind and queue."""

    content_type: str | None
    kind: str
    queue: str


def expected(file: str, strategy: str) -> Taken | str:
    """The rule as docs/ocr.md states it: a `Taken`, or the refusal as both paths word it."""
    if file == "empty":
        return "422: file: the uploaded file is empty"
    if file == "unsupported":
        return f"415: {UNSUPPORTED_FILE_REASON}"
    image = file in ("png", "jpeg")
    if image and strategy == "no_ocr":
        return IMAGE_NEEDS_OCR
    to_ocr = image or strategy == "ocr_only"
    return Taken(CONTENT_TYPES[file], "ocr" if to_ocr else "ingest", QUEUE_OCR if to_ocr else QUEUE_NORMAL)


def taken(outcome: Outcome) -> Taken | str:
    if not outcome.accepted:
        return outcome.reason or ""
    with session_scope() as session:
        job = session.get(Job, uuid.UUID(str(outcome.job_id)))
        blob = session.get(DocumentBlob, uuid.UUID(str(outcome.document_id)))
        assert job is not None and blob is not None
        return Taken(blob.content_type, job.kind, job.queue)


def upload(sender: Sender, path: Path, strategy: OcrStrategyName) -> Taken | str:
    return taken(sender.upload(FileUpload(path), source=None, priority="normal", ocr_strategy=strategy))


@pytest.mark.parametrize("strategy", get_args(OcrStrategyName))
@pytest.mark.parametrize("file", list(FILES))
def test_api_and_direct_uploads_agree(
    client: TestClient, tmp_path: Path, file: str, strategy: OcrStrategyName
) -> None:
    name, data = FILES[file]
    path = tmp_path / name
    path.write_bytes(data)
    # A tenant of its own per path, so neither sees the other's copy as a duplicate.
    api = RemoteSender(TestClient(client.app, headers=make_key().headers))
    direct = DirectSender(tenant=f"direct-{uuid.uuid4().hex[:8]}")

    through_api = upload(api, path, strategy)
    through_direct = upload(direct, path, strategy)

    assert through_api == through_direct == expected(file, strategy)
