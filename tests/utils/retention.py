"""Documents as the worker leaves them (rows, entity rows, rollups, index), for the retention tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from sie.core.db import session_scope
from sie.core.engine.indexing import index_and_mark, search_document
from sie.core.models import Document, DocumentEntity, DocumentStatus, EntityRollup, SentimentRollup, utcnow
from sie.core.repository.archive import archive_records
from sie.core.repository.rollups import add_documents, rebuild_rollups
from sie.core.search import SearchQuery, get_search_backend


def seed(
    tenant: str, *, days_old: float, word: str = "harbour", source: str = "api", **fields: Any
) -> uuid.UUID:
    """A done, indexed document of `tenant` created `days_old` days ago, with two entities."""
    created = utcnow() - timedelta(days=days_old)
    entities = [
        {"text": "Lisbon", "label": "GPE", "count": 2},
        {"text": "Ada", "label": "PERSON", "count": 1},
    ]
    document = Document(
        tenant=tenant,
        source=source,
        title=f"{word} report {uuid.uuid4().hex[:6]}",
        text=f"The {word} opened at dawn. {uuid.uuid4().hex}",
        status=DocumentStatus.done,
        language="en",
        content_hash=uuid.uuid4().hex,
        entities=entities,
        keywords=[word, "dawn"],
        sentiment_compound=0.5,
        sentiment_label="positive",
        extraction={"content_type": "text/plain", "characters": 60},
        meta={"desk": "port", "nested": {"n": 1}},
        published_at=created - timedelta(hours=3),
        author="A. Writer",
        processed_at=created + timedelta(seconds=5),
        created_at=created,
        updated_at=created + timedelta(seconds=5),
    )
    with session_scope() as session:
        session.add(document)
        session.flush()
        session.add_all(
            DocumentEntity(
                document_id=document.id,
                tenant=tenant,
                text=entity["text"],
                label=entity["label"],
                count=entity["count"],
                created_at=created,
            )
            for entity in entities
        )
        session.flush()
        add_documents(session=session, documents=[document])
    assert index_and_mark([search_document(document)])
    return document.id


def existing(ids: list[uuid.UUID]) -> set[uuid.UUID]:
    with session_scope() as session:
        return set(session.scalars(select(Document.id).where(Document.id.in_(ids))))


def entity_rows(ids: list[uuid.UUID]) -> int:
    with session_scope() as session:
        return len(
            session.scalars(select(DocumentEntity.id).where(DocumentEntity.document_id.in_(ids))).all()
        )


def found(tenant: str, word: str = "harbour") -> set[uuid.UUID]:
    """What the configured search backend finds for `word` in the tenant."""
    hits = get_search_backend().search(SearchQuery(tenant=tenant, q=word, limit=100)).hits
    return {uuid.UUID(hit.id) for hit in hits}


def records(ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    with session_scope() as session:
        return sorted(archive_records(session=session, ids=ids), key=lambda record: record["id"])


def rollups(tenant: str) -> tuple[list[Any], list[Any]]:
    with session_scope() as session:
        sentiment = session.scalars(
            select(SentimentRollup).where(SentimentRollup.tenant == tenant).order_by(SentimentRollup.day)
        ).all()
        entity = session.scalars(
            select(EntityRollup)
            .where(EntityRollup.tenant == tenant)
            .order_by(EntityRollup.day, EntityRollup.text)
        ).all()
        return (
            [(r.day, r.source, r.positive, r.scored, round(r.compound_sum, 6)) for r in sentiment],
            [(r.day, r.source, r.text, r.label, r.documents, r.mentions) for r in entity],
        )


def rollups_match_a_rebuild(tenant: str) -> bool:
    kept = rollups(tenant)
    with session_scope() as session:
        rebuild_rollups(session=session, tenant=tenant)
    return rollups(tenant) == kept


def new_tenant(prefix: str = "ret") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def month_of(moment: datetime) -> str:
    return f"{moment:%Y-%m}"
