"""Archive records: a document, its entity rows included, as one JSON object, and back again.

What `sie.core.engine.archive` writes to cold storage, one line per document. Every column is kept
but `search_vector` (the database computes it) and `indexed_at` (a restored document is indexed
again); uploads awaiting extraction and job history are not archived (docs/retention.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid, inspect, select, tuple_
from sqlalchemy.orm import ColumnProperty, Session

from sie.core.models import Document, DocumentContent, DocumentEntity, UtcDateTime

ARCHIVE_FORMAT = 1
NOT_ARCHIVED = {"search_vector", "indexed_at"}
ENTITY_FIELDS = ("text", "label", "count", "created_at")


def _archived_columns() -> dict[str, ColumnProperty[Any]]:
    """The archived columns by their column name (`metadata`, not the attribute `meta`)."""
    columns = {attr.columns[0].name: attr for attr in inspect(Document).column_attrs}
    return {name: attr for name, attr in columns.items() if name not in NOT_ARCHIVED}


ARCHIVED = _archived_columns()
# JSON holds them as strings; a new column of either type is read back without a change here.
UUID_COLUMNS = {name for name, attr in ARCHIVED.items() if isinstance(attr.columns[0].type, Uuid)}
DATETIME_COLUMNS = {name for name, attr in ARCHIVED.items() if isinstance(attr.columns[0].type, UtcDateTime)}


def archive_records(*, session: Session, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """The documents `ids` as archive records, oldest first (the order retention selected them in)."""
    entities: dict[uuid.UUID, list[dict[str, Any]]] = {doc_id: [] for doc_id in ids}
    for entity in session.scalars(
        select(DocumentEntity).where(DocumentEntity.document_id.in_(ids)).order_by(DocumentEntity.id)
    ):
        entities[entity.document_id].append({name: _json(getattr(entity, name)) for name in ENTITY_FIELDS})
    documents = session.scalars(
        select(Document).where(Document.id.in_(ids)).order_by(Document.created_at, Document.id)
    )
    return [
        {
            "format": ARCHIVE_FORMAT,
            **{name: _json(getattr(document, attr.key)) for name, attr in ARCHIVED.items()},
            "entity_rows": entities[document.id],
        }
        for document in documents
    ]


def restore_records(*, session: Session, records: Iterable[dict[str, Any]]) -> list[Document]:
    """Insert the archived documents not present (same id, or the tenant already holds the content).

    Returns the documents inserted, flushed in the caller's transaction.
    """
    wanted: dict[uuid.UUID, dict[str, Any]] = {}
    for record in records:
        wanted.setdefault(uuid.UUID(record["id"]), record)
    if not wanted:
        return []
    present = _present(session, wanted.values())
    documents: list[Document] = []
    for doc_id, record in wanted.items():
        content = (record["tenant"], record.get("content_hash"))
        if doc_id in present or content in present:
            continue
        if content[1] is not None:
            present.add(content)  # two archived copies of one content: the first wins
        document = Document(
            **{ARCHIVED[name].key: _column_value(name, record.get(name)) for name in ARCHIVED}
        )
        documents.append(document)
        session.add(document)
        if document.content_hash is not None:
            session.add(
                DocumentContent(
                    tenant=document.tenant, content_hash=document.content_hash, document_id=doc_id
                )
            )
        session.add_all(_entity_row(document, row) for row in record.get("entity_rows", []))
    session.flush()
    return documents


def _present(session: Session, records: Iterable[dict[str, Any]]) -> set[Any]:
    """Of these records, the ids and the (tenant, content hash) pairs the database already holds."""
    records = list(records)
    ids = [uuid.UUID(record["id"]) for record in records]
    contents = [(r["tenant"], r["content_hash"]) for r in records if r.get("content_hash") is not None]
    present: set[Any] = set(session.scalars(select(Document.id).where(Document.id.in_(ids))))
    if contents:
        columns = (DocumentContent.tenant, DocumentContent.content_hash)
        present.update(session.execute(select(*columns).where(tuple_(*columns).in_(contents))).tuples())
    return present


def _entity_row(document: Document, row: dict[str, Any]) -> DocumentEntity:
    # Its document's time, not the archived one (an older SIE stamped entity rows when it stored
    # them): an entity row lives in its document's month partition.
    return DocumentEntity(
        document_id=document.id,
        tenant=document.tenant,
        text=row["text"],
        label=row["label"],
        count=row["count"],
        created_at=document.created_at,
    )


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _column_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in UUID_COLUMNS:
        return uuid.UUID(value)
    if name in DATETIME_COLUMNS:
        return datetime.fromisoformat(value)
    return value
