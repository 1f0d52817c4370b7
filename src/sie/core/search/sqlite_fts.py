"""Full-text search on SQLite (local mode): an FTS5 table beside `documents`, ranked by bm25."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import Column, MetaData, Table, Text, Uuid, delete, func, insert, literal_column, select, text
from sqlalchemy.orm import Session

from sie.core.models import Document
from sie.core.search.base import SearchDocument, SearchQuery
from sie.core.search.sql import TextMatches, document_filters, hit_columns, one_page

# Not part of `Base.metadata`: Alembic and `create_all` never see it; `create` makes it.
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

_QUERY_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")


class Fts5FullText:
    def create(self, session: Session) -> None:
        session.execute(text(SQLITE_CREATE_FTS))

    def store(self, session: Session, documents: Sequence[SearchDocument]) -> None:
        ids = [uuid.UUID(doc.id) for doc in documents]
        session.execute(delete(documents_fts).where(documents_fts.c.document_id.in_(ids)))
        session.execute(
            insert(documents_fts),
            [
                {"document_id": doc_id, "tenant": doc.tenant, "title": doc.title or "", "text": doc.text}
                for doc_id, doc in zip(ids, documents, strict=True)
            ],
        )

    def remove(self, session: Session, ids: Sequence[uuid.UUID]) -> None:
        session.execute(delete(documents_fts).where(documents_fts.c.document_id.in_(ids)))

    def matches(self, query: SearchQuery, q: str) -> TextMatches | None:
        expression = fts5_expression(q)
        if expression is None:
            return None
        conditions = [*document_filters(query), literal_column("documents_fts").op("MATCH")(expression)]
        snippet = func.snippet(
            literal_column("documents_fts"), 3, "<mark>", "</mark>", "…", SQLITE_SNIPPET_TOKENS
        )
        joined = documents_fts.join(Document, Document.id == documents_fts.c.document_id)
        page = one_page(
            # bm25() is lower-is-better and negative; flipped, a higher score means a better match.
            select(*hit_columns(), (-SQLITE_BM25).label("score"), snippet.label("snippet"))
            .select_from(joined)
            .where(*conditions)
            .order_by(SQLITE_BM25, Document.created_at.desc(), Document.id),
            query,
        )
        return TextMatches(joined, conditions, page)


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
