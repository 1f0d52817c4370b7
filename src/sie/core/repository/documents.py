"""Documents: a tenant's document, and its public view (keyword-only, the session passed in)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from sie.core.errors import NotFound
from sie.core.models import Document
from sie.core.schemas import DocumentPublic, EntityPublic, SentimentPublic


def get_tenant_document(*, session: Session, tenant: str, document_id: uuid.UUID) -> Document:
    """The tenant's document; `NotFound` otherwise: another tenant's document does not exist for it."""
    document = session.scalar(select(Document).where(Document.id == document_id, Document.tenant == tenant))
    if document is None:
        raise NotFound("document not found")
    return document


def document_public(document: Document) -> DocumentPublic:
    return DocumentPublic(
        id=str(document.id),
        status=document.status,
        title=document.title,
        url=document.url,
        source=document.source,
        external_id=document.external_id,
        content_type=document.content_type,
        text=document.text,
        language=document.language,
        author=document.author,
        published_at=document.published_at,
        canonical_url=document.canonical_url,
        site_name=document.site_name,
        description=document.description,
        content_hash=document.content_hash,
        duplicate_of=str(document.duplicate_of) if document.duplicate_of else None,
        entities=[EntityPublic(**entity) for entity in document.entities],
        keywords=list(document.keywords),
        sentiment=_sentiment(document),
        extraction=document.extraction,
        metadata=document.meta,
        created_at=document.created_at,
        processed_at=document.processed_at,
        indexed=document.indexed_at is not None,
    )


def _sentiment(document: Document) -> SentimentPublic | None:
    if document.sentiment_label is None or document.sentiment_compound is None:
        return None
    return SentimentPublic(compound=document.sentiment_compound, label=document.sentiment_label)  # type: ignore[arg-type]
