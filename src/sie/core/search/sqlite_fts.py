"""Full-text search on SQLite (local mode): an FTS5 table beside `documents`, ranked by bm25.

The query language and the ranking rule are PostgreSQL's (`query_text`, `postgres`): only the
RANK_WINDOW newest matches are ranked, and they come first; older matches follow, newest first,
unranked.

An FTS5 row has the rowid of its document's row, as FTS5's external-content tables do, so a match
is joined to its document by an integer key: the matching rowids come from the index alone, and
the newest matching documents are found walking `ix_documents_tenant_created_at`. Joining on
`document_id` instead reads the stored FTS5 row of every match (310 ms for a common word at
100,000 documents, against 5 ms for the rowids).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    Uuid,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sie.core.models import Document
from sie.core.search import postgres
from sie.core.search.base import SearchDocument, SearchQuery
from sie.core.search.query_text import fts5_expression, parse
from sie.core.search.sql import TextMatches, document_filters, hit_columns

# Not part of `Base.metadata`: Alembic and `create_all` never see it; `create` makes it.
_fts_metadata = MetaData()
documents_fts = Table(
    "documents_fts",
    _fts_metadata,
    # The rowid of the document's row in `documents` (see the module's docstring).
    Column("rowid", Integer),
    # Typed like `documents.id`, so ids are stored in the same form and compare equal.
    Column("document_id", Uuid),
    Column("tenant", Text),
    Column("title", Text),
    Column("text", Text),
)
# `prefix`: FTS5 also indexes every word's first two and three letters, so that a short prefix
# (`ze`, the last word as one types) reads one list instead of merging those of every word it
# begins: 2.6 ms against 24 ms a pass at 100,000 documents, for an index 2.5 times the size.
SQLITE_FTS_COLUMNS = (
    "document_id UNINDEXED, tenant UNINDEXED, title, text, tokenize = 'porter unicode61', prefix = '2 3'"
)
SQLITE_CREATE_FTS = f"CREATE VIRTUAL TABLE documents_fts USING fts5({SQLITE_FTS_COLUMNS})"
SQLITE_SNIPPET_TOKENS = 32
_CREATING = threading.Lock()
MISPLACED_SAMPLE = 100
# bm25 weights per FTS column (document_id, tenant, title, text): a title match counts more.
SQLITE_BM25 = literal_column("bm25(documents_fts, 0.0, 0.0, 4.0, 1.0)")


class Fts5FullText:
    def create(self, session: Session) -> None:
        # Local mode's worker threads each make their backend ready at once: one at a time, or one
        # would drop the table another just made, under a store in flight.
        with _CREATING:
            if self._current(session):
                return
            # Made by an older SIE (other options, rowids of its own), or renumbered: made again.
            session.execute(text("DROP TABLE IF EXISTS documents_fts"))
            try:
                session.execute(text(SQLITE_CREATE_FTS))
            except OperationalError:
                # Another process made it meanwhile (SQLite has no transactional DDL here).
                session.rollback()
                if self._current(session):
                    return
                raise
            _fill(session)

    @staticmethod
    def _current(session: Session) -> bool:
        defined = session.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'documents_fts'")
        ).scalar()
        if defined != SQLITE_CREATE_FTS:
            return False
        return not session.execute(select(_misplaced_rows().exists())).scalar()

    def store(self, session: Session, documents: Sequence[SearchDocument]) -> None:
        ids = [uuid.UUID(doc.id) for doc in documents]
        rowids = dict(session.execute(select(Document.id, _document_rowid).where(Document.id.in_(ids))).all())
        # The documents' own rows, and any left by a deleted document whose rowid SQLite reused.
        session.execute(delete(documents_fts).where(documents_fts.c.rowid.in_(rowids.values())))
        rows = [
            {
                "rowid": rowids[doc_id],
                "document_id": doc_id,
                "tenant": doc.tenant,
                "title": doc.title or "",
                "text": doc.text,
            }
            for doc_id, doc in zip(ids, documents, strict=True)
            if doc_id in rowids
        ]
        if rows:
            session.execute(insert(documents_fts), rows)

    def remove(self, session: Session, ids: Sequence[uuid.UUID]) -> None:
        # By id: the document's own row may be gone already.
        session.execute(delete(documents_fts).where(documents_fts.c.document_id.in_(ids)))

    def matches(self, query: SearchQuery, q: str) -> TextMatches | None:
        parsed = parse(q)
        if parsed is None:
            return None
        matched = literal_column("documents_fts").op("MATCH")(fts5_expression(parsed))
        conditions = [
            *document_filters(query),
            _document_rowid.in_(select(documents_fts.c.rowid).where(matched)),
        ]
        window = postgres.RANK_WINDOW  # read here, so that one setting bounds both dialects
        newest_first = (Document.created_at.desc(), Document.id)
        # Every row the page can reach, and no more: the ranked window, or the page's end if deeper.
        candidates = (
            select(_document_rowid.label("rowid"), Document.id, Document.created_at)
            .where(*conditions)
            .order_by(*newest_first)
            .limit(max(window, query.offset + query.limit))
            .cte("candidates")
        )
        by_recency = (candidates.c.created_at.desc(), candidates.c.id)
        in_window = select(candidates.c.rowid).order_by(*by_recency).limit(window)
        scored = _aux_of(in_window, matched, (-SQLITE_BM25).label("score")).limit(window).subquery()
        ranked = select(scored.c.rowid, scored.c.score, Document.created_at, Document.id).join_from(
            scored, Document, _document_rowid == scored.c.rowid
        )
        unranked = (
            select(candidates.c.rowid, null().label("score"), candidates.c.created_at, candidates.c.id)
            .order_by(*by_recency)
            .offset(window)
        )
        both = union_all(ranked, unranked.subquery().select()).subquery()
        page = (
            select(both)
            .order_by(both.c.score.desc().nulls_last(), both.c.created_at.desc(), both.c.id)
            .limit(query.limit)
            .offset(query.offset)
            .cte("page")
        )
        # snippet() is costly, so it runs on the page's rows only.
        snippet = func.snippet(
            literal_column("documents_fts"), 3, "<mark>", "</mark>", "…", SQLITE_SNIPPET_TOKENS
        )
        snippets = _aux_of(select(page.c.rowid), matched, snippet.label("snippet")).subquery()
        rows = (
            select(*hit_columns(), page.c.score, snippets.c.snippet)
            .select_from(page)
            .join(Document, _document_rowid == page.c.rowid)
            .outerjoin(snippets, snippets.c.rowid == page.c.rowid)
            .order_by(page.c.score.desc().nulls_last(), *newest_first)
        )
        return TextMatches(Document, conditions, rows, count_order=(Document.created_at.desc(),))


def _aux_of(rowids: Select[Any], matched: ColumnElement[bool], value: ColumnElement[Any]) -> Select[Any]:
    """An FTS5 auxiliary function's `value` (bm25, snippet) for these rowids, in one pass over the matches.

    The unary `+` keeps SQLite from looking each rowid up with a MATCH of its own instead: each
    such lookup starts the query anew (a prefix merges its words' lists again, bm25 counts the
    whole index again), 0.5 s for 20 snippets of a two-letter prefix at 100,000 documents. The
    rowids' range, which FTS5 does use, keeps the pass short: documents are mostly indexed in the
    order they arrive, so the newest have neighbouring rowids (a phrase's 20 snippets at 100,000
    documents: 3 ms within the range, 25 ms over every match).
    """
    listed = rowids.subquery()
    rowid = next(iter(listed.c))
    lowest, highest = select(func.min(rowid)).scalar_subquery(), select(func.max(rowid)).scalar_subquery()
    return select(documents_fts.c.rowid, value).where(
        matched,
        documents_fts.c.rowid.between(lowest, highest),
        literal_column("+documents_fts.rowid").in_(select(rowid)),
    )


# `documents` has no integer key of its own; its rowid is stable while the row lives.
_document_rowid = literal_column("documents.rowid", Integer)


def _misplaced_rows() -> Select[tuple[int]]:
    """Of the newest rows, those whose rowid is not their document's.

    SQLite keeps rowids through VACUUM in practice, but does not promise it for a table without an
    INTEGER PRIMARY KEY; a renumbering would move the newest rows too, so they are the sample.
    """
    newest = select(documents_fts.c.rowid, documents_fts.c.document_id)
    newest = newest.order_by(documents_fts.c.rowid.desc()).limit(MISPLACED_SAMPLE).subquery()
    owners = newest.outerjoin(Document, _document_rowid == newest.c.rowid)
    return (
        select(newest.c.rowid).select_from(owners).where(Document.id.is_distinct_from(newest.c.document_id))
    )


def _fill(session: Session) -> None:
    """Index every indexed document, each at its document's rowid."""
    session.execute(
        insert(documents_fts).from_select(
            ["rowid", "document_id", "tenant", "title", "text"],
            select(
                _document_rowid,
                Document.id,
                Document.tenant,
                func.coalesce(Document.title, ""),
                func.coalesce(Document.text, ""),
            ).where(Document.indexed_at.is_not(None)),
        )
    )
