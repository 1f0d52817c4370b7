"""What the database backend shares between SQL dialects: filters, hit columns, pages, and the
`FullText` interface each dialect's full-text module implements (`postgres`, `sqlite_fts`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, and_, exists, func
from sqlalchemy.orm import Session

from sie.core.models import Document, DocumentEntity, DocumentStatus
from sie.core.search.base import SearchDocument, SearchHit, SearchQuery


@dataclass(frozen=True)
class TextMatches:
    """A query's matches in one dialect: what to count, and the page of rows to show.

    `page` selects `hit_columns()` plus a `snippet` (matched terms in <mark>) and a `score`
    (higher is better), already ordered and cut to the query's page. `count_order` is the order
    in which counting reads the matches, when one is cheaper than the planner's own choice.
    """

    counted: Any
    conditions: Sequence[ColumnElement[bool]]
    page: Select[Any]
    count_order: Sequence[ColumnElement[Any]] = ()


class FullText(Protocol):
    """How one SQL dialect keeps and matches document text; `DatabaseSearch` does the rest."""

    def create(self, session: Session) -> None:
        """Create what the dialect needs beside `documents` (idempotent)."""

    def store(self, session: Session, documents: Sequence[SearchDocument]) -> None:
        """Add or replace these documents' text."""

    def remove(self, session: Session, ids: Sequence[uuid.UUID]) -> None: ...

    def matches(self, query: SearchQuery, q: str) -> TextMatches | None:
        """The statements for the query text `q`; None when nothing in `q` is searchable."""


def document_filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The tenant, searchable documents only, and the query's filters."""
    conditions: list[ColumnElement[bool]] = [
        Document.tenant == query.tenant,
        Document.status == DocumentStatus.done,
        Document.indexed_at.is_not(None),
    ]
    if query.source is not None:
        conditions.append(Document.source == query.source)
    if query.sentiment is not None:
        conditions.append(Document.sentiment_label == query.sentiment)
    if query.language is not None:
        conditions.append(Document.language == query.language)
    if query.entity is not None:
        conditions.append(
            exists().where(
                and_(
                    DocumentEntity.document_id == Document.id,
                    DocumentEntity.tenant == query.tenant,
                    func.lower(DocumentEntity.text) == query.entity.lower(),
                )
            )
        )
    if query.date_from is not None:
        conditions.append(Document.created_at >= _utc(query.date_from))
    if query.date_to is not None:
        conditions.append(Document.created_at <= _utc(query.date_to))
    if query.published_from is not None:
        conditions.append(Document.published_at >= _utc(query.published_from))
    if query.published_to is not None:
        conditions.append(Document.published_at <= _utc(query.published_to))
    return conditions


def _utc(moment: datetime) -> datetime:
    """SQLite stores timestamps as UTC wall time, so a bound with another offset is moved to UTC first."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def hit_columns() -> tuple[Any, ...]:
    return (
        Document.id,
        Document.title,
        Document.source,
        Document.url,
        Document.sentiment_label,
        Document.created_at,
        Document.published_at,
    )


def one_page(stmt: Select[Any], query: SearchQuery) -> Select[Any]:
    return stmt.limit(query.limit).offset(query.offset)


def to_hit(row: Any, snippet: str, score: float | None) -> SearchHit:
    return SearchHit(
        id=str(row.id),
        title=row.title,
        snippet=snippet,
        source=row.source,
        url=row.url,
        sentiment_label=row.sentiment_label,
        created_at=row.created_at,
        score=score,
        published_at=row.published_at,
    )
