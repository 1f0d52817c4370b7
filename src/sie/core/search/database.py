"""The built-in search backend: full-text search on the documents table itself.

PostgreSQL matches the stored, weighted `documents.search_vector` through its GIN index and
ranks a bounded set of candidates (`postgres`); SQLite (local mode) keeps an FTS5 table beside
`documents` (`sqlite_fts`).
Either way a document is searchable once its status is `done` and `index_documents` has stamped
`indexed_at`. Searches read from the replica when `DATABASE_READ_URL` names one that answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Self, TypeVar

from sqlalchemy import ColumnElement, Engine, Row, Select, func, literal, select, text, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sie.core.config import Settings
from sie.core.db import get_engine
from sie.core.errors import ServiceUnavailable
from sie.core.models import Document, utcnow
from sie.core.replica import read_session_scope
from sie.core.search.base import TOTAL_EXACT_UP_TO, SearchDocument, SearchQuery, SearchResults
from sie.core.search.postgres import PostgresFullText
from sie.core.search.sql import FullText, document_filters, hit_columns, one_page, to_hit
from sie.core.search.sqlite_fts import Fts5FullText

LEADING_SNIPPET_WORDS = 35
# Enough characters for LEADING_SNIPPET_WORDS words; avoids reading whole texts for a listing.
LEADING_SNIPPET_CHARS = 400
WRITE_BATCH = 500

T = TypeVar("T")


class DatabaseSearch:
    """`SearchBackend` on the SQL database the rest of SIE uses (PostgreSQL or SQLite)."""

    name = "database"

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine if engine is not None else get_engine()
        self._sessions = sessionmaker(bind=self._engine, expire_on_commit=False)
        self._text: FullText = Fts5FullText() if self._engine.dialect.name == "sqlite" else PostgresFullText()
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls()  # the database is the one `sie.core.db` connects to

    def ensure_ready(self) -> None:
        with self._session() as session:
            self._text.create(session)
        self._ready = True

    def index_documents(self, documents: Sequence[SearchDocument]) -> None:
        self._ensure_ready()
        for batch in _batches(documents, WRITE_BATCH):
            ids = [uuid.UUID(doc.id) for doc in batch]
            with self._session() as session:
                session.execute(update(Document).where(Document.id.in_(ids)).values(indexed_at=utcnow()))
                self._text.store(session, batch)

    def delete_documents(self, ids: Sequence[str]) -> None:
        self._ensure_ready()
        for batch in _batches(ids, WRITE_BATCH):
            uuids = [uuid.UUID(doc_id) for doc_id in batch]
            with self._session() as session:
                # `indexed_at` says whether a document is in the index; out of it, it is not.
                session.execute(update(Document).where(Document.id.in_(uuids)).values(indexed_at=None))
                self._text.remove(session, uuids)

    def search(self, query: SearchQuery) -> SearchResults:
        q = query.q.replace("\x00", "").strip()
        if not q:
            return self._latest(query)
        self._ensure_ready()
        matches = self._text.matches(query, q)
        if matches is None:
            return SearchResults(hits=[], total=0)
        (total, relation), rows = self._count_and_fetch(
            matches.counted, matches.conditions, matches.page, matches.count_order
        )
        hits = [to_hit(row, row.snippet, None if row.score is None else float(row.score)) for row in rows]
        return SearchResults(hits, total, relation)

    def check(self) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise ServiceUnavailable("search", _reason(exc)) from exc

    def _latest(self, query: SearchQuery) -> SearchResults:
        """No query text: the newest matching documents, each with the start of its text."""
        conditions = document_filters(query)
        stmt = (
            select(*hit_columns(), func.substr(Document.text, 1, LEADING_SNIPPET_CHARS).label("lead"))
            .where(*conditions)
            .order_by(Document.created_at.desc(), Document.id)
        )
        newest_first = (Document.created_at.desc(),)
        (total, relation), rows = self._count_and_fetch(
            Document, conditions, one_page(stmt, query), newest_first
        )
        hits = [to_hit(row, leading_snippet(row.lead or ""), None) for row in rows]
        return SearchResults(hits, total, relation)

    def _count_and_fetch(
        self,
        source: Any,
        conditions: Sequence[ColumnElement[bool]],
        stmt: Select[Any],
        count_order: Sequence[ColumnElement[Any]],
    ) -> tuple[tuple[int, Literal["eq", "gte"]], Sequence[Row[Any]]]:
        """The count of matches (exact up to TOTAL_EXACT_UP_TO) and one page of them, in one transaction."""
        # Counting stops one past the cap: a common word's every match is never read just to count.
        # Newest first where the caller says so: the table is in the order documents arrived, so a
        # plain scan for the last 30 days' matches reads the older rows first (0.54 s at 1M, against
        # 0.19 s newest first).
        capped = select(literal(1)).select_from(source).where(*conditions).order_by(*count_order)
        capped = capped.limit(TOTAL_EXACT_UP_TO + 1)
        with self._reading() as session:
            counted = session.execute(select(func.count()).select_from(capped.subquery())).scalar_one()
            rows = session.execute(stmt).all()
        if counted > TOTAL_EXACT_UP_TO:
            return (TOTAL_EXACT_UP_TO, "gte"), rows
        return (counted, "eq"), rows

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.ensure_ready()

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A search's transaction: on the replica of the settings' database when it has one that
        answers (`read_session_scope`), else as `_session`; a backend built on another engine reads there."""
        if self._engine is not get_engine():
            with self._session() as session:
                yield session
            return
        try:
            with read_session_scope() as session:
                yield session
        except ServiceUnavailable as exc:
            raise ServiceUnavailable("search", str(exc)) from exc

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A transaction whose connection errors mean "search unavailable" to the caller."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except DBAPIError as exc:
            session.rollback()
            if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
                raise ServiceUnavailable("search", _reason(exc)) from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def leading_snippet(text_start: str) -> str:
    """The first words of a text, for listings without a query."""
    words = text_start.split()
    if len(words) <= LEADING_SNIPPET_WORDS and len(text_start) < LEADING_SNIPPET_CHARS:
        return " ".join(words)
    return " ".join(words[:LEADING_SNIPPET_WORDS]) + " …"


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _reason(exc: DBAPIError) -> str:
    return type(exc.orig).__name__ if exc.orig else type(exc).__name__
