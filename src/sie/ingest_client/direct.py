"""Delivering straight into the configured database and queue, by the API's own upload rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.ingest import NewDocument, ingest
from sie.core.engine.queue import InProcessQueue
from sie.core.engine.runtime import get_job_queue
from sie.core.errors import SieError
from sie.core.pipeline.uploads import plan_upload
from sie.core.repository.jobs import job_states
from sie.core.schemas import DocumentCreate, OcrStrategyName
from sie.ingest_client.inputs import DocumentRequest, FileUpload
from sie.ingest_client.report import JobState, Outcome
from sie.ingest_client.senders import accepted, refused, unreadable


class DirectSender:
    """Writes straight into the configured database and queue (`sie.core.engine.ingest.ingest`)."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.queue = get_job_queue()

    def upload(
        self, item: FileUpload, *, source: str | None, priority: str, ocr_strategy: OcrStrategyName = "auto"
    ) -> Outcome:
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            return unreadable(item, exc)
        try:
            plan = plan_upload(
                data, filename=item.path.name, ocr_strategy=ocr_strategy, max_bytes=settings.max_upload_bytes
            )
        except SieError as exc:
            return refused(item.label, exc.status_code, exc.detail)
        new = NewDocument(
            data=data,
            filename=plan.filename,
            content_type=plan.content_type,
            kind=plan.kind,
            source=source or "upload",
            priority=priority,
            ocr_strategy=ocr_strategy,
        )
        return self._ingest([(item.label, new)])[0]

    def submit(self, documents: Sequence[DocumentRequest]) -> list[Outcome]:
        # The API's body model and NewDocument share their field names; validation fills the defaults.
        return self._ingest(
            [
                (
                    document.label,
                    NewDocument(**DocumentCreate.model_validate(document.body).model_dump(mode="json")),
                )
                for document in documents
            ]
        )

    def _ingest(self, pending: Sequence[tuple[str, NewDocument]]) -> list[Outcome]:
        submissions = ingest(self.queue, tenant=self.tenant, documents=[new for _, new in pending])
        return [
            accepted(label, submission.as_response())
            for (label, _), submission in zip(pending, submissions, strict=True)
        ]

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        with session_scope() as session:
            states = job_states(
                session=session, tenant=self.tenant, job_ids=[uuid.UUID(job_id) for job_id in job_ids]
            )
        return {str(job_id): JobState(status, error) for job_id, (status, error) in states.items()}

    def drain(self, timeout: float) -> None:
        if isinstance(self.queue, InProcessQueue):
            self.queue.join(timeout)
