"""The built-in search backend: full-text search on the documents table itself.

PostgreSQL ranks with `tsvector`/`tsquery` on the GIN expression index the initial migration
creates; SQLite (local mode) keeps an FTS5 table beside `documents`. Either way a document is
searchable once its status is `done` and `index_documents` has stamped `indexed_at`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    MetaData,
    Row,
    Select,
    Table,
    Text,
    Uuid,
    and_,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sie.core.db import get_engine
from sie.core.errors import ServiceUnavailable
from sie.core.models import Document, DocumentEntity, DocumentStatus, utcnow
from sie.core.search.base import SearchDocument, SearchHit, SearchQuery, SearchResults

# Identical, character for character, to the expression of the `ix_documents_search` GIN index,
# and spelled out literally (no bound parameters) so the planner can match it to the index.
PG_DOCUMENT_VECTOR = literal_column(
    "to_tsvector('english', coalesce(documents.title, '') || ' ' || coalesce(documents.text, ''))"
)
PG_HEADLINE_OPTIONS = "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=2"

# Not part of `Base.metadata`: Alembic and `create_all` never see it; `ensure_ready` creates it.
_fts_metadata = MetaData()
documents_fts = Table(
    "documents_fts",
    _fts_metadata,
    # Typed like `documents.id`, so ids are stored in the same form and the join compares equal.
    Column("document_id", Uuid),
    Column("tenant", Text),
    Column("title", Text),
    Column("text", Text),
)
SQLITE_CREATE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5("
    "document_id UNINDEXED, tenant UNINDEXED, title, text, tokenize = 'porter unicode61')"
)
SQLITE_SNIPPET_TOKENS = 32
# bm25 weights per FTS column (document_id, tenant, title, text): a title match counts more.
SQLITE_BM25 = literal_column("bm25(documents_fts, 0.0, 0.0, 4.0, 1.0)")

LEADING_SNIPPET_WORDS = 35
# Enough characters for LEADING_SNIPPET_WORDS words; avoids reading whole texts for a listing.
LEADING_SNIPPET_CHARS = 400
WRITE_BATCH = 500

T = TypeVar("T")

_QUERY_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")


class DatabaseSearch:
    """`SearchBackend` on the SQL database the rest of SIE uses (PostgreSQL or SQLite)."""

    name = "database"

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine if engine is not None else get_engine()
        self._sessions = sessionmaker(bind=self._engine, expire_on_commit=False)
        self._is_sqlite = self._engine.dialect.name == "sqlite"
        self._fts_ready = False

    def ensure_ready(self) -> None:
        if not self._is_sqlite:
            return  # the GIN index comes with the migration
        with self._session() as session:
            session.execute(text(SQLITE_CREATE_FTS))
        self._fts_ready = True

    def index_documents(self, documents: Sequence[SearchDocument]) -> None:
        self._ensure_fts()
        for batch in _batches(documents, WRITE_BATCH):
            ids = [_uuid(doc.id) for doc in batch]
            with self._session() as session:
                session.execute(update(Document).where(Document.id.in_(ids)).values(indexed_at=utcnow()))
                if self._is_sqlite:
                    session.execute(delete(documents_fts).where(documents_fts.c.document_id.in_(ids)))
                    session.execute(
                        insert(documents_fts),
                        [
                            {
                                "document_id": _uuid(doc.id),
                                "tenant": doc.tenant,
                                "title": doc.title or "",
                                "text": doc.text,
                            }
                            for doc in batch
                        ],
                    )

    def delete_documents(self, ids: Sequence[str]) -> None:
        self._ensure_fts()
        for batch in _batches(ids, WRITE_BATCH):
            uuids = [_uuid(doc_id) for doc_id in batch]
            with self._session() as session:
                # `indexed_at` says whether a document is in the index; out of it, it is not.
                session.execute(update(Document).where(Document.id.in_(uuids)).values(indexed_at=None))
                if self._is_sqlite:
                    session.execute(delete(documents_fts).where(documents_fts.c.document_id.in_(uuids)))

    def search(self, query: SearchQuery) -> SearchResults:
        q = query.q.replace("\x00", "").strip()
        if not q:
            return self._latest(query)
        if self._is_sqlite:
            return self._search_sqlite(query, q)
        return self._search_postgres(query, q)

    def check(self) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise ServiceUnavailable("search", _reason(exc)) from exc

    # -- the three kinds of query ------------------------------------------------------------

    def _latest(self, query: SearchQuery) -> SearchResults:
        """No query text: the newest matching documents, each with the start of its text."""
        conditions = _filters(query)
        stmt = (
            select(*_hit_columns(), func.substr(Document.text, 1, LEADING_SNIPPET_CHARS).label("lead"))
            .where(*conditions)
            .order_by(Document.created_at.desc(), Document.id)
        )
        total, rows = self._count_and_fetch(Document, conditions, _page(stmt, query))
        return SearchResults([_hit(row, leading_snippet(row.lead or ""), None) for row in rows], total)

    def _search_postgres(self, query: SearchQuery, q: str) -> SearchResults:
        tsquery = func.websearch_to_tsquery(literal_column("'english'"), q)
        conditions = [*_filters(query), PG_DOCUMENT_VECTOR.op("@@")(tsquery)]
        rank = func.ts_rank_cd(PG_DOCUMENT_VECTOR, tsquery)
        # Rank and cut the page first; ts_headline is costly, so it runs on the page's rows only.
        page = _page(
            select(Document.id, rank.label("rank"))
            .where(*conditions)
            .order_by(rank.desc(), Document.created_at.desc(), Document.id),
            query,
        ).subquery()
        headline = func.ts_headline(
            literal_column("'english'"), func.coalesce(Document.text, ""), tsquery, PG_HEADLINE_OPTIONS
        )
        stmt = (
            select(*_hit_columns(), page.c.rank, headline.label("headline"))
            .join(page, page.c.id == Document.id)
            .order_by(page.c.rank.desc(), Document.created_at.desc(), Document.id)
        )
        total, rows = self._count_and_fetch(Document, conditions, stmt)
        return SearchResults([_hit(row, row.headline, float(row.rank)) for row in rows], total)

    def _search_sqlite(self, query: SearchQuery, q: str) -> SearchResults:
        self._ensure_fts()
        expression = fts5_expression(q)
        if expression is None:
            return SearchResults(hits=[], total=0)
        conditions = [
            *_filters(query),
            literal_column("documents_fts").op("MATCH")(expression),
        ]
        snippet = func.snippet(
            literal_column("documents_fts"), 3, "<mark>", "</mark>", "…", SQLITE_SNIPPET_TOKENS
        )
        joined = documents_fts.join(Document, Document.id == documents_fts.c.document_id)
        stmt = (
            select(*_hit_columns(), SQLITE_BM25.label("bm25"), snippet.label("snippet"))
            .select_from(joined)
            .where(*conditions)
            .order_by(SQLITE_BM25, Document.created_at.desc(), Document.id)
        )
        total, rows = self._count_and_fetch(joined, conditions, _page(stmt, query))
        # bm25() is lower-is-better and negative; flip it so a higher score means a better match.
        return SearchResults([_hit(row, row.snippet, -float(row.bm25)) for row in rows], total)

    # -- plumbing ------------------------------------------------------------------------------

    def _count_and_fetch(
        self, source: Any, conditions: Sequence[ColumnElement[bool]], stmt: Select[Any]
    ) -> tuple[int, Sequence[Row[Any]]]:
        """The full count of matches and one page of them, read in one transaction."""
        with self._session() as session:
            total = session.execute(select(func.count()).select_from(source).where(*conditions)).scalar_one()
            return total, session.execute(stmt).all()

    def _ensure_fts(self) -> None:
        if self._is_sqlite and not self._fts_ready:
            self.ensure_ready()

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


def fts5_expression(q: str) -> str | None:
    """Turn free text into an FTS5 query that cannot be a syntax error.

    Follows `websearch_to_tsquery`: words and "quoted phrases" must all match, `or` between two
    terms makes an alternative, and `-word` excludes. Every term becomes a quoted FTS5 string,
    so user text never reaches FTS5 as operators. None when nothing searchable is left.
    """
    alternatives: list[list[str]] = [[]]
    excluded: list[str] = []
    for match in _QUERY_TOKEN.finditer(q):
        phrase, word = match.group(1), match.group(2)
        if word is not None and word.lower() == "or":
            if alternatives[-1]:
                alternatives.append([])
            continue
        negated = word is not None and word.startswith("-")
        raw = phrase if phrase is not None else word.lstrip("-")
        words = _WORD.findall(raw)
        if not words:
            continue
        term = '"' + " ".join(words).replace('"', '""') + '"'
        (excluded if negated else alternatives[-1]).append(term)
    groups = [" AND ".join(group) for group in alternatives if group]
    if not groups:
        return None
    expression = " OR ".join(f"({group})" for group in groups)
    for term in excluded:
        expression = f"({expression}) NOT {term}"
    return expression


def leading_snippet(text_start: str) -> str:
    """The first words of a text, for listings without a query."""
    words = text_start.split()
    if len(words) <= LEADING_SNIPPET_WORDS and len(text_start) < LEADING_SNIPPET_CHARS:
        return " ".join(words)
    return " ".join(words[:LEADING_SNIPPET_WORDS]) + " …"


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Document.tenant == query.tenant,
        Document.status == DocumentStatus.done,
        Document.indexed_at.is_not(None),
    ]
    if query.source is not None:
        conditions.append(Document.source == query.source)
    if query.sentiment is not None:
        conditions.append(Document.sentiment_label == query.sentiment)
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
        conditions.append(Document.created_at >= query.date_from)
    if query.date_to is not None:
        conditions.append(Document.created_at <= query.date_to)
    return conditions


def _hit_columns() -> tuple[Any, ...]:
    return (
        Document.id,
        Document.title,
        Document.source,
        Document.url,
        Document.sentiment_label,
        Document.created_at,
    )


def _page(stmt: Select[Any], query: SearchQuery) -> Select[Any]:
    return stmt.limit(query.limit).offset(query.offset)


def _hit(row: Any, snippet: str, score: float | None) -> SearchHit:
    return SearchHit(
        id=str(row.id),
        title=row.title,
        snippet=snippet,
        source=row.source,
        url=row.url,
        sentiment_label=row.sentiment_label,
        created_at=row.created_at,
        score=score,
    )


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _reason(exc: DBAPIError) -> str:
    return type(exc.orig).__name__ if exc.orig else type(exc).__name__
