"""A batch of jobs end to end: claim, read text, enrich, store, index; each job fails or retries alone.

The Celery tasks (`sie.core.engine.worker_app`) and local mode's thread pool (`run_jobs_in_process`)
both call `run_jobs`; only the text reader differs between the general and the OCR worker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from sie.core import metrics
from sie.core.config import settings
from sie.core.engine.indexing import index_and_mark
from sie.core.engine.jobs.claim import ClaimedJob, claim_jobs
from sie.core.engine.jobs.outcome import finish_failure, route_to_ocr
from sie.core.engine.jobs.readers import TextReader, read_text
from sie.core.engine.jobs.stage import stage
from sie.core.engine.jobs.store import Enriched, Stored, store_each
from sie.core.errors import PermanentError
from sie.core.logging import get_logger
from sie.core.models import JobKind
from sie.core.pipeline.enrich import enrich_batch
from sie.core.pipeline.types import ExtractedText
from sie.core.queues import QUEUE_OCR, JobQueue
from sie.core.search import SearchDocument

log = get_logger(__name__)


def run_jobs(job_ids: Sequence[uuid.UUID], *, queue: JobQueue, reader: TextReader = read_text) -> None:
    """Run a batch of jobs end to end; each job fails, retries or finishes on its own."""
    ready = _read_texts(claim_jobs(job_ids), queue, reader)
    batch = _enrich(ready, queue) if ready else []
    if not batch:
        return
    try:
        stored = store_each(batch, queue)
    except Exception as exc:
        finish_failure(batch[0].job, exc, queue)
        return
    index_and_mark(_report_done(batch, stored))


def run_jobs_in_process(queue: JobQueue, queue_name: str, job_ids: list[uuid.UUID]) -> None:
    """Local mode's task body: the same run, with the OCR reader for the `ocr` queue."""
    try:
        run_jobs(job_ids, queue=queue, reader=_reader_for(queue_name))
    except Exception:
        log.exception("job_batch_crashed", jobs=len(job_ids))


def _reader_for(queue_name: str) -> TextReader:
    if queue_name != QUEUE_OCR:
        return read_text
    # Optional heavy dependency: the OCR stack (the `ocr` extra) loads only when local mode meets
    # its first OCR job, so the API and the demo run without it, as they did before it was installed.
    from sie.core.engine.jobs.ocr_reader import read_text_with_ocr

    return read_text_with_ocr


def _read_texts(
    jobs: Sequence[ClaimedJob], queue: JobQueue, reader: TextReader
) -> list[tuple[ClaimedJob, ExtractedText]]:
    """The jobs whose text was read; the others failed, or went to the OCR queue."""
    ready: list[tuple[ClaimedJob, ExtractedText]] = []
    for job in jobs:
        log.info("job_started", job_id=str(job.job_id), attempt=job.attempts, queue=job.queue)
        try:
            extracted = reader(job)
        except Exception as exc:
            finish_failure(job, exc, queue)
            continue
        if extracted.needs_ocr and job.kind == JobKind.ingest and job.options.get("ocr_strategy") != "no_ocr":
            route_to_ocr(job, queue)
        elif not extracted.text.strip():
            finish_failure(job, PermanentError("no text found in the document"), queue)
        else:
            ready.append((job, extracted))
    return ready


def _enrich(ready: Sequence[tuple[ClaimedJob, ExtractedText]], queue: JobQueue) -> list[Enriched]:
    try:
        with stage("nlp"):
            enrichments = enrich_batch(
                [extracted.text for _, extracted in ready], batch_size=settings.nlp_batch_size
            )
    except Exception as exc:
        for job, _ in ready:
            finish_failure(job, exc, queue)
        return []
    return [
        Enriched(job, extracted, enrichment)
        for (job, extracted), enrichment in zip(ready, enrichments, strict=True)
    ]


def _report_done(batch: Sequence[Enriched], stored: Stored) -> list[SearchDocument]:
    """Count and log the jobs stored now; returns what to index (duplicates are not indexed)."""
    indexable: list[SearchDocument] = []
    for item in batch:
        if item.job.job_id not in stored:
            continue
        search_doc = stored[item.job.job_id]
        duration = time.perf_counter() - item.job.started
        metrics.JOB_DURATION.labels(stage="total", outcome="done").observe(duration)
        metrics.DOCUMENTS.labels(status="done", source=metrics.source_label(item.job.source)).inc()
        if search_doc is not None:
            sentiment = item.enrichment.sentiment
            metrics.SENTIMENT.labels(label=sentiment.label if sentiment else "none").inc()
            indexable.append(search_doc)
        log.info(
            "job_completed",
            job_id=str(item.job.job_id),
            duration_ms=round(duration * 1000, 2),
            duplicate=search_doc is None,
        )
    return indexable
