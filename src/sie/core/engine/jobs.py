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
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.deadletter import publish_dead_letters, record_dead_letter
from sie.core.engine.ingest import content_hash
from sie.core.engine.queue import get_job_queue
from sie.core.errors import PermanentError, ServiceUnavailable, SieError, TransientError
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
from sie.core.pipeline.types import Enrichment, ExtractedText, PageText
from sie.core.queues import QUEUE_OCR, JobQueue
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


WORKER_LOST_KIND = "worker_lost"


def claim_jobs(job_ids: Sequence[uuid.UUID]) -> list[ClaimedJob]:
    """Mark the jobs running (attempt +1) and load their inputs; finished jobs are skipped.

    A job still `running` when it is claimed again lost its worker mid-attempt (SIGKILL, the OOM
    killer). That attempt counts as failed: past TASK_MAX_RETRIES the job is dead-lettered here,
    since a job that kills every worker it runs on would otherwise be redelivered forever.
    """
    claimed: list[ClaimedJob] = []
    letters: list[DeadLetter] = []
    with session_scope() as session:
        jobs = session.scalars(
            select(Job).where(Job.id.in_(job_ids)).order_by(Job.id).with_for_update()
        ).all()
        open_jobs = []
        for job in jobs:
            if job.status in (JobStatus.done, JobStatus.failed, JobStatus.dead):
                log.info("job_skipped", job_id=str(job.id), status=job.status)
            elif job.status == JobStatus.running and job.attempts > settings.task_max_retries:
                letters.append(_dead_letter_lost_job(session, job))
            else:
                open_jobs.append(job)
        document_ids = [job.document_id for job in open_jobs]
        documents = {
            doc.id: doc for doc in session.scalars(select(Document).where(Document.id.in_(document_ids)))
        }
        blobs = {
            blob.document_id: blob
            for blob in session.scalars(
                select(DocumentBlob).where(DocumentBlob.document_id.in_(document_ids))
            )
        }
        for job in open_jobs:
            document, blob = documents[job.document_id], blobs.get(job.document_id)
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
    publish_dead_letters(letters)
    return claimed


def _dead_letter_lost_job(session: Session, job: Job) -> DeadLetter:
    error = (
        f"the worker running this job was lost {job.attempts} times "
        "(killed, or out of memory) before it could finish"
    )
    document = session.get(Document, job.document_id)
    letter = record_dead_letter(
        session, job, error=error, error_kind=WORKER_LOST_KIND, source=document.source if document else None
    )
    if document is not None:
        document.status = DocumentStatus.failed
    metrics.ERRORS.labels(component="worker", kind=WORKER_LOST_KIND).inc()
    metrics.DOCUMENTS.labels(status="dead", source=_source_label(letter.source or "")).inc()
    log.error("job_dead_lettered", job_id=str(job.id), error=error, attempts=job.attempts, queue=job.queue)
    return letter


@dataclass(frozen=True)
class JobContent:
    """The bytes a job reads, with the type its sender declared and its file name, if any."""

    data: bytes
    declared_type: str | None = None
    filename: str | None = None


def job_content(job: ClaimedJob) -> JobContent:
    """The job's uploaded file, or what its URL serves (fetched now, SSRF-guarded)."""
    from sie.core.fetch import fetch_url

    if job.blob is not None:
        return JobContent(job.blob, job.blob_content_type, job.blob_filename)
    if job.url is None:
        raise PermanentError("job has neither text, file nor URL")
    with stage("fetch"):
        fetched = fetch_url(job.url, headers=job.options.get("fetch_headers"))
    return JobContent(fetched.content, fetched.content_type)


def read_text(job: ClaimedJob) -> ExtractedText:
    """The general worker's first stages: pushed text as is, or fetch + extract."""
    from sie.core.pipeline.extract import extract

    if job.text is not None:
        return ExtractedText(text=job.text, content_type="text/plain", title=job.title)
    content = job_content(job)
    with stage("extract"):
        return extract(content.data, declared_type=content.declared_type, filename=content.filename)


class stage:
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
        if row is None or row.status != JobStatus.running or row.attempts != job.attempts:
            # A second delivery of the job (a message re-sent by the relay) claimed it since, or
            # finished it: that attempt's outcome stands, so this one's is not recorded twice
            # (two retries scheduled, or two dead letters for one job).
            log.info(
                "job_outcome_superseded",
                job_id=str(job.job_id),
                attempt=job.attempts,
                status=row.status if row else None,
            )
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
        from sie.core.engine.ingest import mark_enqueued

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
    from sie.core.engine.ingest import mark_enqueued

    mark_enqueued([job.job_id])


@dataclass(frozen=True)
class Enriched:
    job: ClaimedJob
    extracted: ExtractedText
    enrichment: Enrichment


def _store_batch(batch: Sequence[Enriched]) -> dict[uuid.UUID, SearchDocument | None]:
    """Write results into their document rows in one transaction; a job already done is left alone.

    Returns, per job stored now, what to index (None when its content duplicates another document).
    One transaction and a handful of statements per batch, not per document: at NLP speed the
    per-document round trips would otherwise cost as much as the NLP itself.
    """
    stored: dict[uuid.UUID, SearchDocument | None] = {}
    hashes = {item.job.job_id: content_hash(item.extracted.text) for item in batch}
    with session_scope() as session:
        open_jobs = {
            job.id: job
            for job in session.scalars(
                select(Job).where(Job.id.in_(list(hashes))).order_by(Job.id).with_for_update()
            )
            if job.status != JobStatus.done
        }
        pending = [item for item in batch if item.job.job_id in open_jobs]
        if not pending:
            return stored
        document_ids = [item.job.document_id for item in pending]
        documents = {
            doc.id: doc for doc in session.scalars(select(Document).where(Document.id.in_(document_ids)))
        }
        owners: dict[tuple[str, str], uuid.UUID] = {
            (tenant, text_hash): document_id
            for tenant, text_hash, document_id in session.execute(
                select(Document.tenant, Document.content_hash, Document.id).where(
                    Document.tenant.in_({item.job.tenant for item in pending}),
                    Document.content_hash.in_([hashes[item.job.job_id] for item in pending]),
                )
            )
        }
        session.execute(delete(DocumentEntity).where(DocumentEntity.document_id.in_(document_ids)))
        session.execute(delete(DocumentBlob).where(DocumentBlob.document_id.in_(document_ids)))
        now = utcnow()
        for item in pending:
            job, document = open_jobs[item.job.job_id], documents[item.job.document_id]
            job.status, job.finished_at, job.error, job.error_kind = JobStatus.done, now, None, None
            owner = owners.setdefault((item.job.tenant, hashes[item.job.job_id]), document.id)
            if owner != document.id:
                document.status, document.duplicate_of, document.processed_at = (
                    DocumentStatus.duplicate,
                    owner,
                    now,
                )
                stored[item.job.job_id] = None
                continue
            _fill_document(document, item, hashes[item.job.job_id], now)
            session.add_all(
                DocumentEntity(
                    document_id=document.id,
                    tenant=document.tenant,
                    text=entity.text[:300],
                    label=entity.label,
                    count=entity.count,
                    created_at=document.created_at,
                )
                for entity in item.enrichment.entities
            )
            stored[item.job.job_id] = search_document(document)
    return stored


def _fill_document(document: Document, item: Enriched, text_hash: str, now: datetime) -> None:
    enrichment = item.enrichment
    document.text = item.extracted.text
    document.title = document.title or item.extracted.title
    document.content_type = item.extracted.content_type
    document.content_hash = text_hash
    document.language = enrichment.language
    document.entities = [{"text": e.text, "label": e.label, "count": e.count} for e in enrichment.entities]
    document.keywords = list(enrichment.keywords)
    document.sentiment_compound = enrichment.sentiment.compound
    document.sentiment_label = enrichment.sentiment.label
    document.extraction = _extraction_details(item.extracted)
    document.status, document.processed_at = DocumentStatus.done, now


def _store_each(batch: Sequence[Enriched], queue: JobQueue) -> dict[uuid.UUID, SearchDocument | None]:
    """Store a batch; if it fails as a whole, store job by job so one bad job cannot sink the rest."""
    try:
        with stage("store"):
            return _store_batch(batch)
    except Exception:
        if len(batch) == 1:
            raise
    stored: dict[uuid.UUID, SearchDocument | None] = {}
    for item in batch:
        try:
            stored.update(_store_batch([item]))
        except IntegrityError:
            # The same content landed concurrently; the next attempt records this one as a duplicate.
            _finish_failure(item.job, TransientError("concurrent duplicate content"), queue)
        except Exception as exc:
            _finish_failure(item.job, exc, queue)
    return stored


def _extraction_details(extracted: ExtractedText) -> dict[str, Any]:
    details: dict[str, Any] = {"content_type": extracted.content_type, "characters": len(extracted.text)}
    if extracted.ocr_confidence is not None:
        details["ocr_confidence"] = extracted.ocr_confidence
    if extracted.pages:
        details["pages"] = [_page_details(page) for page in extracted.pages]
    return details


def _page_details(page: PageText) -> dict[str, Any]:
    details: dict[str, Any] = {
        "number": page.number,
        "characters": len(page.text),
        "ocr_confidence": page.ocr_confidence,
    }
    if page.low_confidence_words:
        details["low_confidence_words"] = [
            {"text": word.text, "confidence": word.confidence} for word in page.low_confidence_words
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
        with stage("nlp"):
            enrichments = enrich_batch([extracted.text for _, extracted in ready])
    except Exception as exc:
        for job, _ in ready:
            _finish_failure(job, exc, queue)
        return
    batch = [
        Enriched(job, extracted, enrichment)
        for (job, extracted), enrichment in zip(ready, enrichments, strict=True)
    ]
    try:
        stored = _store_each(batch, queue)
    except Exception as exc:
        _finish_failure(batch[0].job, exc, queue)
        return
    indexable: list[SearchDocument] = []
    for item in batch:
        if item.job.job_id not in stored:
            continue
        search_doc = stored[item.job.job_id]
        duration = time.perf_counter() - item.job.started
        metrics.JOB_DURATION.labels(stage="total", outcome="done").observe(duration)
        metrics.DOCUMENTS.labels(status="done", source=_source_label(item.job.source)).inc()
        if search_doc is not None:
            metrics.SENTIMENT.labels(label=item.enrichment.sentiment.label).inc()
            indexable.append(search_doc)
        log.info(
            "job_completed",
            job_id=str(item.job.job_id),
            duration_ms=round(duration * 1000, 2),
            duplicate=search_doc is None,
        )
    index_and_mark(indexable)


def run_jobs_in_process(queue_name: str, job_ids: list[uuid.UUID]) -> None:
    """Local mode's task body: the same run, with the OCR reader for the `ocr` queue."""
    try:
        reader = read_text
        if queue_name == QUEUE_OCR:
            from sie.core.engine.ocr import read_text_with_ocr

            reader = read_text_with_ocr
        run_jobs(job_ids, queue=get_job_queue(), reader=reader)
    except Exception:
        log.exception("job_batch_crashed", jobs=len(job_ids))
