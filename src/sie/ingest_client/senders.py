"""What a way of delivering inputs must do, and the outcomes both ways report alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sie.core.schemas import OcrStrategyName
from sie.ingest_client.inputs import DocumentRequest, FileUpload
from sie.ingest_client.report import JobState, Outcome


class IngestAborted(Exception):
    """Nothing more can be sent: the API is unreachable or refuses the key (the command's own stop,
    not an error of the engine)."""


class Sender(Protocol):
    def upload(
        self, item: FileUpload, *, source: str | None, priority: str, ocr_strategy: OcrStrategyName = "auto"
    ) -> Outcome: ...

    def submit(self, documents: Sequence[DocumentRequest]) -> list[Outcome]: ...

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]: ...

    def drain(self, timeout: float) -> None:
        """Let accepted jobs run before the process exits (only local mode's in-process queue needs it)."""


def accepted(label: str, body: dict[str, Any]) -> Outcome:
    """An input the engine took: `body` is the API's answer (`Accepted`)."""
    return Outcome(
        label=label,
        job_id=body["job_id"],
        document_id=body["document_id"],
        duplicate=bool(body.get("duplicate")),
    )


def refused(label: str, status_code: int, detail: str) -> Outcome:
    """An input the engine refused, worded as the API words it: `<status>: <detail>`."""
    return Outcome(label=label, reason=f"{status_code}: {detail}")


def unreadable(item: FileUpload, exc: OSError) -> Outcome:
    return Outcome(label=item.label, reason=f"cannot read the file: {exc.strerror or exc}")
