"""Putting stored documents into the search index, shared by the worker (after storing) and the relay
(the re-index sweep for documents stored while search was down)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from sqlalchemy import update

from sie.core import metrics
from sie.core.db import session_scope
from sie.core.errors import ServiceUnavailable
from sie.core.logging import get_logger
from sie.core.models import Document, utcnow
from sie.core.search import SearchDocument, get_search_backend

log = get_logger(__name__)


def search_document(document: Document) -> SearchDocument:
    """What the search index holds of a stored document."""
    return SearchDocument(
        id=str(document.id),
        tenant=document.tenant,
        title=document.title,
        text=document.text or "",
        source=document.source,
        url=document.url,
        created_at=document.created_at,
        published_at=document.published_at,
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
        metrics.count_error("index_unavailable")
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
