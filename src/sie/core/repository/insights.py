"""The numbers behind the NLP Performance dashboard: sentiment and entities per tenant, by day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from sie.core.models import Document, DocumentEntity, DocumentStatus


@dataclass(frozen=True)
class InsightWindow:
    tenant: str
    source: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


def _documents_in(window: InsightWindow, query: Select[Any]) -> Select[Any]:
    query = query.where(Document.tenant == window.tenant, Document.status == DocumentStatus.done)
    if window.source is not None:
        query = query.where(Document.source == window.source)
    if window.date_from is not None:
        query = query.where(Document.created_at >= window.date_from)
    if window.date_to is not None:
        query = query.where(Document.created_at < window.date_to)
    return query


SENTIMENT_LABELS = ("positive", "neutral", "negative")


def sentiment_by_day(*, session: Session, window: InsightWindow) -> dict[str, Any]:
    """Documents per sentiment label and day; `unscored` counts those no sentiment model read (their
    language has none), apart from `neutral`; the average compound is over scored documents only."""
    day = func.date(Document.created_at)
    counts = {
        label: func.sum(case((Document.sentiment_label == label, 1), else_=0)) for label in SENTIMENT_LABELS
    }
    counts["unscored"] = func.sum(case((Document.sentiment_label.is_(None), 1), else_=0))
    rows = session.execute(
        _documents_in(
            window,
            select(day, *counts.values(), func.avg(Document.sentiment_compound)),
        )
        .group_by(day)
        .order_by(day)
    ).all()
    buckets = [
        {
            "day": str(row[0]),
            **{label: int(count or 0) for label, count in zip(counts, row[1:-1], strict=True)},
            "average_compound": round(float(row[-1]), 4) if row[-1] is not None else None,
        }
        for row in rows
    ]
    totals = {label: sum(bucket[label] for bucket in buckets) for label in counts}
    return {"buckets": buckets, "totals": totals}


def entities_by_day(
    *, session: Session, window: InsightWindow, top: int = 20, per_day: int = 10
) -> dict[str, Any]:
    day = func.date(Document.created_at)
    documents = func.count(func.distinct(DocumentEntity.document_id))
    mentions = func.sum(DocumentEntity.count)
    base = _documents_in(
        window,
        select(DocumentEntity.text, DocumentEntity.label, documents, mentions).join(
            Document, Document.id == DocumentEntity.document_id
        ),
    ).group_by(DocumentEntity.text, DocumentEntity.label)
    top_rows = session.execute(base.order_by(documents.desc(), mentions.desc()).limit(top)).all()
    daily = session.execute(
        _documents_in(
            window,
            select(day, DocumentEntity.text, DocumentEntity.label, documents, mentions).join(
                Document, Document.id == DocumentEntity.document_id
            ),
        )
        .group_by(day, DocumentEntity.text, DocumentEntity.label)
        .order_by(day, documents.desc(), mentions.desc())
    ).all()
    per_bucket: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bucket_day, text, label, doc_count, mention_count in daily:
        entries = per_bucket[str(bucket_day)]
        if len(entries) < per_day:
            entries.append(
                {"text": text, "label": label, "documents": doc_count, "mentions": int(mention_count)}
            )
    return {
        "top": [
            {"text": text, "label": label, "documents": doc_count, "mentions": int(mention_count)}
            for text, label, doc_count, mention_count in top_rows
        ],
        "buckets": [{"day": bucket_day, "entities": entries} for bucket_day, entries in per_bucket.items()],
    }
