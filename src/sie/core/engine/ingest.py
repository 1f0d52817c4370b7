"""Accepting documents: the one path by which the API, the CLI and sources create work.

Document and job rows are committed together; jobs are enqueued only after the commit, through the
outbox (`sie.core.engine.outbox`), so an accepted document is never lost. Content the tenant already
stores is answered with the existing document and its first job (`duplicate`), enforced by the
primary key of `document_contents` (`(tenant, content_hash)`: which document holds each content).

On PostgreSQL the rows go in with one statement (`sie.core.repository.intake`); a request with no
Idempotency-Key and no file is that one statement in autocommit: one round trip, committed before
the answer. Local mode's SQLite stores them through the ORM.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sie.core.db import autocommit_connection, is_postgres, request_session, session_scope
from sie.core.engine.outbox import Submission, enqueue_new
from sie.core.errors import ServiceUnavailable
from sie.core.models import Document, DocumentBlob, DocumentContent, Job, JobKind, JobStatus
from sie.core.pipeline.fingerprint import content_hash
from sie.core.queues import JobQueue, queue_for
from sie.core.repository.idempotency import create_once
from sie.core.repository.intake import first_jobs, insert_new

OcrStrategy = Literal["auto", "ocr_only", "no_ocr"]
Respond = Callable[[list[Submission]], dict[str, Any]]


@dataclass(frozen=True)
class NewDocument:
    """One document to ingest: exactly one of text, url or data."""

    text: str | None = None
    url: str | None = None
    data: bytes | None = None
    filename: str | None = None
    content_type: str | None = None
    title: str | None = None
    source: str = "api"
    priority: str = "normal"
    metadata: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    ocr_strategy: OcrStrategy = "auto"
    fetch_headers: dict[str, str] | None = None
    kind: str = JobKind.ingest

    @property
    def content_hash(self) -> str | None:
        return content_hash(self.text) if self.text is not None else None

    def job_options(self) -> dict[str, Any]:
        options = (("ocr_strategy", self.ocr_strategy), ("fetch_headers", self.fetch_headers))
        return {key: value for key, value in options if value}


@dataclass(frozen=True)
class Idempotency:
    """An `Idempotency-Key` and the fingerprint of the request that came with it."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class _Planned:
    """One new document's rows, with the answer it gets if they are inserted."""

    new: NewDocument
    text_hash: str | None
    submission: Submission

    def document_row(self) -> dict[str, Any]:
        new = self.new
        return {
            "id": self.submission.document_id,
            "source": new.source,
            "external_id": new.external_id,
            "title": new.title,
            "url": new.url,
            "text": new.text,
            "content_hash": self.text_hash,
            "content_type": "text/plain" if new.text is not None else new.content_type,
            "metadata": new.metadata,
        }

    def job_row(self) -> dict[str, Any]:
        new, submission = self.new, self.submission
        return {
            "id": submission.job_id,
            "kind": new.kind,
            "priority": new.priority,
            "queue": submission.queue,
            "options": new.job_options(),
        }


def _plan(new: NewDocument) -> _Planned:
    queue = queue_for(priority=new.priority, kind=new.kind)
    submission = Submission(
        job_id=uuid.uuid4(), document_id=uuid.uuid4(), status=JobStatus.pending, queue=queue
    )
    return _Planned(new, new.content_hash, submission)


def insert_documents(
    connection: Connection, *, tenant: str, documents: Sequence[NewDocument]
) -> list[Submission]:
    """Write the document and job rows on a PostgreSQL connection: autocommit, or the caller's
    transaction (which a document with file bytes needs: its blob is a second statement)."""
    planned = [_plan(new) for new in documents]
    answers: dict[str, Submission] = {}
    fresh: list[_Planned] = []
    for plan in planned:
        # The same content twice in one request: the second is answered with the first.
        if plan.text_hash is None or plan.text_hash not in answers:
            fresh.append(plan)
            if plan.text_hash is not None:
                answers[plan.text_hash] = plan.submission
    inserted = insert_new(
        connection=connection,
        tenant=tenant,
        documents=[plan.document_row() for plan in fresh],
        jobs=[plan.job_row() for plan in fresh],
    )
    _store_blobs(
        connection, [p for p in fresh if p.new.data is not None and p.submission.document_id in inserted]
    )
    stored = {
        plan.text_hash for plan in fresh if plan.text_hash and plan.submission.document_id not in inserted
    }
    answers |= _known(connection, tenant, stored)
    if missing := stored - answers.keys():
        # Stored by a request that committed after this statement began, then gone (deleted): rare.
        raise ServiceUnavailable("database", f"{len(missing)} documents changed while being accepted")
    return [_answer(plan, answers, inserted) for plan in planned]


def _answer(plan: _Planned, answers: dict[str, Submission], inserted: set[uuid.UUID]) -> Submission:
    if plan.submission.document_id in inserted:
        return plan.submission
    assert plan.text_hash is not None  # only content with a hash is ever skipped
    answer = answers[plan.text_hash]
    return answer if answer.duplicate else replace(answer, duplicate=True)


def _store_blobs(connection: Connection, planned: Sequence[_Planned]) -> None:
    if planned:
        connection.execute(
            insert(DocumentBlob),
            [
                {
                    "document_id": plan.submission.document_id,
                    "filename": plan.new.filename,
                    "content_type": plan.new.content_type,
                    "data": plan.new.data,
                }
                for plan in planned
            ],
        )


def add_documents(session: Session, *, tenant: str, documents: Sequence[NewDocument]) -> list[Submission]:
    """Write document and job rows in the caller's transaction. Call `enqueue_new` after commit."""
    if is_postgres():
        return insert_documents(session.connection(), tenant=tenant, documents=documents)
    return _add_with_orm(session, tenant, documents)


def _orm_rows(tenant: str, plan: _Planned) -> list[object]:
    document = plan.document_row()
    document["meta"] = document.pop("metadata")  # the model's attribute for the column
    rows: list[object] = [
        Document(tenant=tenant, **document),
        Job(tenant=tenant, document_id=plan.submission.document_id, **plan.job_row()),
    ]
    if plan.text_hash is not None:
        rows.append(
            DocumentContent(
                tenant=tenant, content_hash=plan.text_hash, document_id=plan.submission.document_id
            )
        )
    if plan.new.data is not None:
        rows.append(
            DocumentBlob(
                document_id=plan.submission.document_id,
                filename=plan.new.filename,
                content_type=plan.new.content_type,
                data=plan.new.data,
            )
        )
    return rows


def _known(db: Session | Connection, tenant: str, hashes: set[str]) -> dict[str, Submission]:
    """The answers for content the tenant already stores: its document's first job, a duplicate."""
    return {
        text_hash: Submission(first.job_id, first.document_id, first.status, first.queue, duplicate=True)
        for text_hash, first in first_jobs(db=db, tenant=tenant, hashes=hashes).items()
    }


def _add_with_orm(session: Session, tenant: str, documents: Sequence[NewDocument]) -> list[Submission]:
    """Local mode (SQLite): all rows in one flush; if a concurrent request stored the same content
    meanwhile, the key of `document_contents` refuses the flush and each document is retried in its
    own savepoint."""
    planned = [_plan(new) for new in documents]
    known = _known(session, tenant, {plan.text_hash for plan in planned if plan.text_hash})
    submissions: list[Submission] = []
    rows: list[object] = []
    for plan in planned:
        if plan.text_hash is not None and plan.text_hash in known:
            submissions.append(known[plan.text_hash])
            continue
        rows.extend(_orm_rows(tenant, plan))
        submissions.append(plan.submission)
        if plan.text_hash is not None:
            known[plan.text_hash] = replace(plan.submission, duplicate=True)
    try:
        with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:
        return [_add_one(session, tenant, plan) for plan in planned]
    return submissions


def _add_one(session: Session, tenant: str, plan: _Planned) -> Submission:
    """One document in its own savepoint: a concurrent insert of the same content loses cleanly."""
    hashes = {plan.text_hash} if plan.text_hash else set()
    if plan.text_hash is not None and plan.text_hash in (existing := _known(session, tenant, hashes)):
        return existing[plan.text_hash]
    try:
        with session.begin_nested():
            session.add_all(_orm_rows(tenant, plan))
    except IntegrityError:
        existing = _known(session, tenant, hashes)
        if plan.text_hash is not None and plan.text_hash in existing:
            return existing[plan.text_hash]
        raise
    return plan.submission


def accept(
    queue: JobQueue,
    *,
    tenant: str,
    documents: Sequence[NewDocument],
    respond: Respond,
    idempotency: Idempotency | None = None,
) -> dict[str, Any]:
    """Store the documents (once per Idempotency-Key), enqueue what is new, and return the answer
    (`respond` makes it from the submissions; a replayed key gets the first answer again)."""
    if idempotency is None and is_postgres() and all(new.data is None for new in documents):
        with autocommit_connection() as connection:
            submissions = insert_documents(connection, tenant=tenant, documents=documents)
        enqueue_new(queue, submissions, mark_later=True)
        return respond(submissions)
    with request_session() as session:

        def create() -> tuple[list[Submission], dict[str, Any]]:
            created = add_documents(session, tenant=tenant, documents=documents)
            return created, respond(created)

        key, fingerprint = (idempotency.key, idempotency.fingerprint) if idempotency else (None, "")
        submissions, response = create_once(
            session=session, tenant=tenant, key=key, fingerprint=fingerprint, create=create
        )
    enqueue_new(queue, submissions, mark_later=True)
    return response


def ingest(queue: JobQueue, *, tenant: str, documents: Sequence[NewDocument]) -> list[Submission]:
    """Accept documents for a tenant: commit their rows, then enqueue their jobs."""
    with session_scope() as session:
        submissions = add_documents(session, tenant=tenant, documents=documents)
    enqueue_new(queue, submissions)
    return submissions
