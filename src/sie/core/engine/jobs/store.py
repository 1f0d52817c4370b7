"""Storing results: each job's text and enrichment go into the document row created at submit time.

One transaction and a handful of statements per batch, not per document: at NLP speed the
per-document round trips would otherwise cost as much as the NLP itself. A job already done is
left alone, and content another document of the tenant already holds makes this one a duplicate.
Which document holds a content is `document_contents`' row: a document that stores a new text moves
its row to the new hash, and two batches claiming one content concurrently collide on its key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sie.core.db import session_scope
from sie.core.engine.indexing import search_document
from sie.core.engine.jobs.claim import ClaimedJob
from sie.core.engine.jobs.outcome import finish_failure
from sie.core.engine.jobs.stage import stage
from sie.core.errors import TransientError
from sie.core.models import (
    Document,
    DocumentBlob,
    DocumentContent,
    DocumentEntity,
    DocumentStatus,
    Job,
    JobStatus,
    utcnow,
)
from sie.core.pipeline.fingerprint import content_hash
from sie.core.pipeline.html_meta import as_stored
from sie.core.pipeline.types import Enrichment, ExtractedText, PageMetadata, PageText
from sie.core.queues import JobQueue
from sie.core.repository.rollups import RollupDelta, apply_rollups, stored_delta
from sie.core.search import SearchDocument

# Per job stored now: what to index, or None when its content duplicates another document.
Stored = dict[uuid.UUID, SearchDocument | None]


@dataclass(frozen=True)
class Enriched:
    """A job with its text and what the NLP stage found in it: ready to store."""

    job: ClaimedJob
    extracted: ExtractedText
    enrichment: Enrichment


@dataclass(frozen=True)
class _BatchRows:
    """What one batch writes into, read (and the jobs locked) in a few statements."""

    jobs: dict[uuid.UUID, Job]
    documents: dict[uuid.UUID, Document]
    # (tenant, content hash) -> the document holding that content; grows as the batch stores.
    owners: dict[tuple[str, str], uuid.UUID]
    hashes: dict[uuid.UUID, str]


def store_each(batch: Sequence[Enriched], queue: JobQueue) -> Stored:
    """Store a batch; if it fails as a whole, store job by job so one bad job cannot sink the rest."""
    try:
        with stage("store"):
            return _store_batch(batch)
    except Exception:
        if len(batch) == 1:
            raise
    stored: Stored = {}
    for item in batch:
        try:
            stored.update(_store_batch([item]))
        except IntegrityError:
            # The same content landed concurrently; the next attempt records this one as a duplicate.
            finish_failure(item.job, TransientError("concurrent duplicate content"), queue)
        except Exception as exc:
            finish_failure(item.job, exc, queue)
    return stored


def _store_batch(batch: Sequence[Enriched]) -> Stored:
    """Write results into their document rows in one transaction; a job already done is left alone."""
    hashes = {item.job.job_id: content_hash(item.extracted.text) for item in batch}
    with session_scope() as session:
        jobs = {
            job.id: job
            for job in session.scalars(
                select(Job).where(Job.id.in_(list(hashes))).order_by(Job.id).with_for_update()
            )
            if job.status != JobStatus.done
        }
        pending = [item for item in batch if item.job.job_id in jobs]
        if not pending:
            return {}
        document_ids = [item.job.document_id for item in pending]
        rows = _BatchRows(
            jobs, _documents(session, document_ids), _content_owners(session, pending, hashes), hashes
        )
        # A retried job replaces what an earlier attempt stored (its share of the daily rollups
        # included); the upload is not needed any more.
        rollups = stored_delta(session=session, documents=list(rows.documents.values()), sign=-1)
        session.execute(delete(DocumentEntity).where(DocumentEntity.document_id.in_(document_ids)))
        session.execute(delete(DocumentBlob).where(DocumentBlob.document_id.in_(document_ids)))
        now = utcnow()
        stored = {item.job.job_id: _store_one(session, item, rows, now, rollups) for item in pending}
        # In this transaction: the insights count a document exactly when its result is committed.
        apply_rollups(session=session, delta=rollups)
        return stored


def _documents(session: Session, document_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Document]:
    return {doc.id: doc for doc in session.scalars(select(Document).where(Document.id.in_(document_ids)))}


def _content_owners(
    session: Session, items: Sequence[Enriched], hashes: dict[uuid.UUID, str]
) -> dict[tuple[str, str], uuid.UUID]:
    """The documents that already hold the batch's contents, by tenant and content hash."""
    rows = session.execute(
        select(DocumentContent.tenant, DocumentContent.content_hash, DocumentContent.document_id).where(
            DocumentContent.tenant.in_({item.job.tenant for item in items}),
            DocumentContent.content_hash.in_([hashes[item.job.job_id] for item in items]),
        )
    )
    return {(tenant, text_hash): document_id for tenant, text_hash, document_id in rows}


def _store_one(
    session: Session, item: Enriched, rows: _BatchRows, now: datetime, rollups: RollupDelta
) -> SearchDocument | None:
    job, document = rows.jobs[item.job.job_id], rows.documents[item.job.document_id]
    text_hash = rows.hashes[item.job.job_id]
    job.status, job.finished_at, job.error, job.error_kind = JobStatus.done, now, None, None
    key = (item.job.tenant, text_hash)
    claimed = key not in rows.owners
    owner = rows.owners.setdefault(key, document.id)
    if owner != document.id:
        document.status, document.duplicate_of, document.processed_at = DocumentStatus.duplicate, owner, now
        return None
    if claimed:
        # Its earlier content (an accepted text, an earlier fetch) is no longer what it holds. A
        # concurrent batch claiming the same content fails this flush on the key (`store_each`).
        session.execute(delete(DocumentContent).where(DocumentContent.document_id == document.id))
        session.add(DocumentContent(tenant=item.job.tenant, content_hash=text_hash, document_id=document.id))
    _fill_document(document, item, text_hash, now)
    entities = list(_entity_rows(document, item.enrichment))
    session.add_all(entities)
    rollups.add(document, ((entity.text, entity.label, entity.count) for entity in entities), 1)
    return search_document(document)


def _fill_document(document: Document, item: Enriched, text_hash: str, now: datetime) -> None:
    enrichment = item.enrichment
    document.text = item.extracted.text
    document.title = document.title or item.extracted.title
    document.content_type = item.extracted.content_type
    document.content_hash = text_hash
    _fill_page_metadata(document, item.extracted.metadata)
    document.language = enrichment.language
    document.entities = [{"text": e.text, "label": e.label, "count": e.count} for e in enrichment.entities]
    document.keywords = list(enrichment.keywords)
    # No sentiment model for the language: NULL, never a neutral it did not measure.
    document.sentiment_compound = enrichment.sentiment.compound if enrichment.sentiment else None
    document.sentiment_label = enrichment.sentiment.label if enrichment.sentiment else None
    document.extraction = {**_extraction_details(item.extracted), "enrichment": enrichment.details()}
    document.status, document.processed_at = DocumentStatus.done, now


def _fill_page_metadata(document: Document, metadata: PageMetadata) -> None:
    # A feed entry's own date (the scheduler puts it in the metadata at accept) wins over the page's.
    page = as_stored(metadata, page_url=document.url, listed_published=document.meta.get("published"))
    document.author, document.published_at = page.author, page.published_at
    document.canonical_url, document.site_name = page.canonical_url, page.site_name
    document.description = page.description


def _entity_rows(document: Document, enrichment: Enrichment) -> Iterator[DocumentEntity]:
    for entity in enrichment.entities:
        yield DocumentEntity(
            document_id=document.id,
            tenant=document.tenant,
            text=entity.text[:300],
            label=entity.label,
            count=entity.count,
            created_at=document.created_at,
        )


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
