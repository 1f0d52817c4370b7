"""Removing documents: their rows, their dependents and their share of the daily rollups, at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, load_only

from sie.core.models import Document, DocumentBlob, DocumentContent, DocumentEntity, Job, SourceItem
from sie.core.repository.rollups import CHUNK, RollupDelta, apply_rollups, stored_delta

# What a document's rollup contribution is made of (its text is not read).
COUNTED = (
    Document.tenant,
    Document.source,
    Document.status,
    Document.created_at,
    Document.sentiment_label,
    Document.sentiment_compound,
)


def remove_documents(*, session: Session, ids: Sequence[uuid.UUID]) -> int:
    """Delete these documents and take their contributions out of the rollups, in the caller's
    transaction; returns how many existed. Their jobs (with those jobs' dead letters, by cascade),
    entity rows, uploaded bytes and content rows are deleted here, and source items forget them:
    no foreign key can point at the partitioned `documents`. Removing them from the search index is the
    caller's job, once this has committed: a rollback would otherwise leave documents that exist
    but can no longer be found."""
    delta = RollupDelta()
    removed: list[uuid.UUID] = []
    for start in range(0, len(ids), CHUNK):
        documents = _lock(session, ids[start : start + CHUNK])
        stored_delta(session=session, documents=documents, sign=-1, into=delta)
        removed += [document.id for document in documents]
    # One delta for all: its rows are upserted in key order, whatever the chunks.
    apply_rollups(session=session, delta=delta)
    for start in range(0, len(removed), CHUNK):
        _delete(session, removed[start : start + CHUNK])
    return len(removed)


def _delete(session: Session, ids: Sequence[uuid.UUID]) -> None:
    unsynchronised = {"synchronize_session": False}
    for model in (Job, DocumentEntity, DocumentBlob, DocumentContent):
        session.execute(delete(model).where(model.document_id.in_(ids)), execution_options=unsynchronised)
    session.execute(
        update(SourceItem).where(SourceItem.document_id.in_(ids)).values(document_id=None),
        execution_options=unsynchronised,
    )
    session.execute(delete(Document).where(Document.id.in_(ids)), execution_options=unsynchronised)


def _lock(session: Session, ids: Sequence[uuid.UUID]) -> list[Document]:
    # Jobs first, in id order, as the worker's store locks them: a batch storing one of these
    # documents finishes (and is subtracted here) or then finds its job gone, never a deadlock.
    session.execute(select(Job.id).where(Job.document_id.in_(ids)).order_by(Job.id).with_for_update())
    return list(
        session.scalars(
            select(Document)
            .options(load_only(*COUNTED))
            .where(Document.id.in_(ids))
            .order_by(Document.id)
            .with_for_update()
        )
    )
