"""Helpers for source tests: sources made through the repository, and what the ingest path recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from sie.core.db import session_scope
from sie.core.models import Document, Job, Source, SourceItem, utcnow
from sie.core.schemas import SourceCreate
from sie.core.sources.repository import create_source


def make_source(tenant: str, *, name: str | None = None, **spec: object) -> uuid.UUID:
    body = SourceCreate(name=name or f"src-{uuid.uuid4().hex[:8]}", **spec)  # type: ignore[arg-type]
    with session_scope() as session:
        return create_source(session=session, tenant=tenant, name=body.name, source_in=body).id


def source_row(source_id: uuid.UUID) -> Source:
    with session_scope() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source


def set_next_run(source_id: uuid.UUID, when: datetime) -> None:
    with session_scope() as session:
        source = session.get(Source, source_id)
        assert source is not None
        source.next_run_at = when


@dataclass(frozen=True)
class Ingested:
    documents: list[Document]
    jobs: int

    @property
    def urls(self) -> set[str | None]:
        return {document.url for document in self.documents}


def ingested(tenant: str, source_name: str | None = None) -> Ingested:
    """What went through the ingest path for the tenant: document rows and their job rows."""
    with session_scope() as session:
        query = select(Document).where(Document.tenant == tenant)
        if source_name is not None:
            query = query.where(Document.source == source_name)
        documents = list(session.scalars(query))
        jobs = session.scalar(
            select(func.count()).select_from(Job).where(Job.document_id.in_([d.id for d in documents]))
        )
        return Ingested(documents, jobs or 0)


def item_statuses(source_id: uuid.UUID) -> dict[str, str]:
    with session_scope() as session:
        return dict(
            session.execute(
                select(SourceItem.url, SourceItem.status).where(SourceItem.source_id == source_id)
            ).all()
        )


def seconds_until(moment: datetime) -> float:
    return (moment - utcnow()).total_seconds()
