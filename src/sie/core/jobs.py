"""Running jobs: claim → read text → enrich → store → index, with retries and dead-lettering.

A job is idempotent: a redelivered message (worker killed, `acks_late`) finds the job done and
does nothing, and the store step writes into the document row created at submit time, so no
duplicate document can appear. Only the text-reading stage differs between the general worker
(fetch + extract) and the OCR worker (OCR); everything after it is this one code path.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.deadletter import publish_dead_letters, record_dead_letter
from sie.core.errors import PermanentError, ServiceUnavailable, SieError, TransientError
from sie.core.ingest import content_hash
from sie.core.logging import get_logger
from sie.core.models import (
    DeadLetter,
    Document,
    DocumentBlob,
    DocumentEntity,
    DocumentStatus,
    Job,
    JobKind,
    JobStatus,
    utcnow,
)
from sie.core.pipeline.types import Enrichment, ExtractedText
from sie.core.queue import QUEUE_OCR, JobQueue, get_job_queue
from sie.core.search import SearchDocument, get_search_backend

log = get_logger(__name__)


@dataclass
class ClaimedJob:
    """A job this worker now runs, with what its stages need (loaded once, passed by value)."""

    job_id: uuid.UUID
    document_id: uuid.UUID
    tenant: str
    kind: str
    queue: str
    attempts: int
    options: dict[str, Any]
    source: str
    title: str | None
    url: str | None
    text: str | None
    blob: bytes | None
    blob_filename: str | None
    blob_content_type: str | None
    started: float = field(default_factory=time.perf_counter)


TextReader = Callable[[ClaimedJob], ExtractedText]


def claim_jobs(job_ids: Sequence[uuid.UUID]) -> list[ClaimedJob]:
    """Mark the jobs running (attempt +1) and load their inputs; finished jobs are skipped."""
    claimed: list[ClaimedJob] = []
    with session_scope() as session:
        jobs = session.scalars(
            select(Job).where(Job.id.in_(job_ids)).order_by(Job.id).with_for_update()
        ).all()
        for job in jobs:
            if job.status in (JobStatus.done, JobStatus.failed, JobStatus.dead):
                log.info("job_skipped", job_id=str(job.id), status=job.status)
                continue
            document = session.get(Document, job.document_id)
            if document is None:
                continue
            blob = session.get(DocumentBlob, job.document_id)
            job.status = JobStatus.running
            job.attempts += 1
            job.started_at = utcnow()
            claimed.append(
                ClaimedJob(
                    job_id=job.id,
                    document_id=document.id,
                    tenant=job.tenant,
                    kind=job.kind,
                    queue=job.queue,
                    attempts=job.attempts,
                    options=dict(job.options or {}),
                    source=document.source,
                    title=document.title,
                    url=document.url,
                    text=document.text if document.content_hash is not None else None,
                    blob=blob.data if blob else None,
                    blob_filename=blob.filename if blob else None,
                    blob_content_type=blob.content_type if blob else None,
                )
            )
    return claimed


def read_text(job: ClaimedJob) -> ExtractedText:
    """The general worker's first stages: pushed text as is, or fetch + extract."""
    from sie.core.pipeline.extract import extract
    from sie.core.pipeline.fetch import fetch_url

    if job.text is not None:
        return ExtractedText(text=job.text, content_type="text/plain", title=job.title)
    if job.blob is not None:
        with _stage("extract"):
            return extract(job.blob, declared_type=job.blob_content_type, filename=job.blob_filename)
    if job.url is None:
        raise PermanentError("job has neither text, file nor URL")
    with _stage("fetch"):
        fetched = fetch_url(job.url, headers=job.options.get("fetch_headers"))
    with _stage("extract"):
        return extract(fetched.content, declared_type=fetched.content_type)


class _stage:
    """Times one pipeline stage into `sie_job_duration_seconds{stage, outcome}`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        outcome = "ok" if exc_type is None else "error"
        metrics.JOB_DURATION.labels(stage=self.name, outcome=outcome).observe(
            time.perf_counter() - self.start
        )


def retry_delay(attempt: int) -> float:
    """Exponential backoff with full jitter, capped (Celery's `retry_backoff` semantics)."""
    ceiling = min(settings.task_retry_backoff_max, 2 ** max(0, attempt - 1))
    return random.uniform(0.5, 1.0) * ceiling


def _finish_failure(job: ClaimedJob, exc: BaseException, queue: JobQueue) -> None:
    """Permanent errors fail the job; others retry with backoff, then go to the dead-letter queue."""
    kind = exc.kind if isinstance(exc, SieError) else "internal"
    message = f"{type(exc).__name__}: {exc}"[:2000]
    permanent = isinstance(exc, PermanentError)
    dead = not permanent and job.attempts > settings.task_max_retries
    letters: list[DeadLetter] = []
    with session_scope() as session:
        row = session.get(Job, job.job_id, with_for_update=True)
        if row is None or row.status == JobStatus.done:
            return
        row.error, row.error_kind = message, kind
        if permanent:
            row.status, row.finished_at = JobStatus.failed, utcnow()
            session.execute(
                update(Document).where(Document.id == job.document_id).values(status=DocumentStatus.failed)
            )
        elif dead:
            letters.append(
                record_dead_letter(session, row, error=message, error_kind=kind, source=job.source)
            )
            session.execute(
                update(Document).where(Document.id == job.document_id).values(status=DocumentStatus.failed)
            )
        else:
            row.status, row.enqueued_at = JobStatus.pending, None
    metrics.ERRORS.labels(component="worker", kind=kind).inc()
    duration_ms = round((time.perf_counter() - job.started) * 1000, 2)
    if permanent:
        log.warning("job_failed", job_id=str(job.job_id), error=message, kind=kind, duration_ms=duration_ms)
        metrics.DOCUMENTS.labels(status="failed", source=_source_label(job.source)).inc()
    elif dead:
        publish_dead_letters(letters)
        log.error("job_dead_lettered", job_id=str(job.job_id), error=message, attempts=job.attempts)
        metrics.DOCUMENTS.labels(status="dead", source=_source_label(job.source)).inc()
    else:
        delay = retry_delay(job.attempts)
        metrics.JOB_RETRIES.labels(queue=job.queue, kind=kind).inc()
        log.warning(
            "job_retry_scheduled",
            job_id=str(job.job_id),
            attempt=job.attempts,
            delay_s=round(delay, 2),
            error=message,
        )
        try:
            queue.enqueue(job.queue, [job.job_id], countdown=delay)
        except ServiceUnavailable:
            return  # still in the outbox: the relay re-sends it once the broker is back
        from sie.core.ingest import mark_enqueued

        mark_enqueued([job.job_id])


def _source_label(source: str) -> str:
    # Source names are chosen by admins and bounded; free-form per-request names are folded.
    return source if len(source) <= 64 else "other"


def _route_to_ocr(job: ClaimedJob, queue: JobQueue) -> None:
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.job_id)
            .values(kind=JobKind.ocr, queue=QUEUE_OCR, status=JobStatus.pending, enqueued_at=None, attempts=0)
        )
    log.info("job_routed_to_ocr", job_id=str(job.job_id))
    try:
        queue.enqueue(QUEUE_OCR, [job.job_id])
    except ServiceUnavailable:
        return
    from sie.core.ingest import mark_enqueued

    mark_enqueued([job.job_id])


def _store(job: ClaimedJob, extracted: ExtractedText, enrichment: Enrichment) -> SearchDocument | None:
    """Write the result into the document row, once; return what to index (None for a duplicate)."""
    text_hash = content_hash(extracted.text)
    with session_scope() as session:
        row = session.get(Job, job.job_id, with_for_update=True)
        if row is None or row.status == JobStatus.done:
            return None
        document = session.get(Document, job.document_id)
        assert document is not None
        now = utcnow()
        row.status, row.finished_at, row.error, row.error_kind = JobStatus.done, now, None, None
        twin = session.scalar(
            select(Document.id).where(
                Document.tenant == job.tenant, Document.content_hash == text_hash, Document.id != document.id
            )
        )
        if twin is not None:
            document.status, document.duplicate_of, document.processed_at = (
                DocumentStatus.duplicate,
                twin,
                now,
            )
            session.execute(delete(DocumentBlob).where(DocumentBlob.document_id == document.id))
            return None
        document.text = extracted.text
        document.title = document.title or extracted.title
        document.content_type = extracted.content_type
        document.content_hash = text_hash
        document.language = enrichment.language
        document.entities = [
            {"text": e.text, "label": e.label, "count": e.count} for e in enrichment.entities
        ]
        document.keywords = list(enrichment.keywords)
        document.sentiment_compound = enrichment.sentiment.compound
        document.sentiment_label = enrichment.sentiment.label
        document.extraction = _extraction_details(extracted)
        document.status, document.processed_at = DocumentStatus.done, now
        session.execute(delete(DocumentEntity).where(DocumentEntity.document_id == document.id))
        session.add_all(
            DocumentEntity(
                document_id=document.id,
                tenant=job.tenant,
                text=entity.text[:300],
                label=entity.label,
                count=entity.count,
                created_at=document.created_at,
            )
            for entity in enrichment.entities
        )
        session.execute(delete(DocumentBlob).where(DocumentBlob.document_id == document.id))
        return search_document(document)


def _extraction_details(extracted: ExtractedText) -> dict[str, Any]:
    details: dict[str, Any] = {"content_type": extracted.content_type, "characters": len(extracted.text)}
    if extracted.pages:
        details["pages"] = [
            {"number": page.number, "characters": len(page.text), "ocr_confidence": page.ocr_confidence}
            for page in extracted.pages
        ]
    return details


def search_document(document: Document) -> SearchDocument:
    return SearchDocument(
        id=str(document.id),
        tenant=document.tenant,
        title=document.title,
        text=document.text or "",
        source=document.source,
        url=document.url,
        created_at=document.created_at,
        entities=[entity["text"] for entity in document.entities],
        keywords=list(document.keywords),
        sentiment_label=document.sentiment_label,
        sentiment_compound=document.sentiment_compound,
        language=document.language,
    )


def index_and_mark(documents: Sequence[SearchDocument]) -> bool:
    """Index documents and record it; if search is down they stay marked for the re-index sweep."""
    if not documents:
        return True
    start = time.perf_counter()
    try:
        backend = get_search_backend()
        backend.ensure_ready()
        backend.index_documents(documents)
    except ServiceUnavailable as exc:
        metrics.ERRORS.labels(component="worker", kind="index_unavailable").inc()
        log.warning("index_deferred", reason=str(exc), documents=len(documents))
        return False
    finally:
        metrics.JOB_DURATION.labels(stage="index", outcome="ok").observe(time.perf_counter() - start)
    with session_scope() as session:
        session.execute(
            update(Document)
            .where(Document.id.in_([uuid.UUID(doc.id) for doc in documents]))
            .values(indexed_at=utcnow())
        )
    return True


def run_jobs(job_ids: Sequence[uuid.UUID], *, queue: JobQueue, reader: TextReader = read_text) -> None:
    """Run a batch of jobs end to end; each job fails, retries or finishes on its own."""
    from sie.core.pipeline.enrich import enrich_batch

    ready: list[tuple[ClaimedJob, ExtractedText]] = []
    for job in claim_jobs(job_ids):
        log.info("job_started", job_id=str(job.job_id), attempt=job.attempts, queue=job.queue)
        try:
            extracted = reader(job)
        except Exception as exc:
            _finish_failure(job, exc, queue)
            continue
        if extracted.needs_ocr and job.kind == JobKind.ingest and job.options.get("ocr_strategy") != "no_ocr":
            _route_to_ocr(job, queue)
            continue
        if not extracted.text.strip():
            _finish_failure(job, PermanentError("no text found in the document"), queue)
            continue
        ready.append((job, extracted))
    if not ready:
        return
    try:
        with _stage("nlp"):
            enrichments = enrich_batch([extracted.text for _, extracted in ready])
    except Exception as exc:
        for job, _ in ready:
            _finish_failure(job, exc, queue)
        return
    indexable: list[SearchDocument] = []
    for (job, extracted), enrichment in zip(ready, enrichments, strict=True):
        try:
            with _stage("store"):
                stored = _store(job, extracted, enrichment)
        except IntegrityError:
            # The same content landed concurrently; the next attempt records this one as a duplicate.
            _finish_failure(job, TransientError("concurrent duplicate content"), queue)
            continue
        except Exception as exc:
            _finish_failure(job, exc, queue)
            continue
        duration = time.perf_counter() - job.started
        metrics.JOB_DURATION.labels(stage="total", outcome="done").observe(duration)
        metrics.DOCUMENTS.labels(status="done", source=_source_label(job.source)).inc()
        if stored is not None:
            metrics.SENTIMENT.labels(label=enrichment.sentiment.label).inc()
            indexable.append(stored)
        log.info(
            "job_completed",
            job_id=str(job.job_id),
            duration_ms=round(duration * 1000, 2),
            duplicate=stored is None,
        )
    index_and_mark(indexable)


def run_jobs_in_process(queue_name: str, job_ids: list[uuid.UUID]) -> None:
    """Local mode's task body: the same run, with the OCR reader for the `ocr` queue."""
    reader = read_text
    if queue_name == QUEUE_OCR:
        from sie.core.ocr import read_text_with_ocr

        reader = read_text_with_ocr
    try:
        run_jobs(job_ids, queue=get_job_queue(), reader=reader)
    except Exception:
        log.exception("job_batch_crashed", jobs=len(job_ids))
