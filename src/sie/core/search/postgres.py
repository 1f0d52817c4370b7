"""Full-text search on PostgreSQL: `documents.search_vector` (title weighted A, text B), GIN-indexed.

The database keeps the vector (a stored generated column) and its index, so writes need nothing
here; `DatabaseSearch` stamps `indexed_at`.

Ranking is bounded: only the RANK_WINDOW newest matches are ranked by relevance, and they come
first; older matches follow, newest first, unranked. A common word matching most of a million
documents thus costs one bounded read, never a rank of every match. Below RANK_WINDOW matches,
every match is ranked.

The query text is read by `query_text` (shared with SQLite) and handed to `to_tsquery` as one
bound value in which every word is a quoted lexeme, so user text is never tsquery syntax.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from sie.core.models import Document
from sie.core.search.base import SearchDocument, SearchQuery
from sie.core.search.query_text import parse, tsquery_text
from sie.core.search.sql import TextMatches, document_filters, hit_columns

PG_HEADLINE_OPTIONS = "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=2"
# How many of the newest matches are ranked by relevance (see the module's docstring).
RANK_WINDOW = 1_000


class PostgresFullText:
    def create(self, session: Session) -> None:
        return None  # the column and its GIN index come with the migrations

    def store(self, session: Session, documents: Sequence[SearchDocument]) -> None:
        return None  # the database computes `search_vector` on every insert and update

    def remove(self, session: Session, ids: Sequence[uuid.UUID]) -> None:
        return None

    def matches(self, query: SearchQuery, q: str) -> TextMatches | None:
        parsed = parse(q)
        if parsed is None:
            return None
        tsquery = func.to_tsquery(literal_column("'english'"), tsquery_text(parsed))
        conditions = [*document_filters(query), Document.search_vector.op("@@")(tsquery)]
        newest_first = (Document.created_at.desc(), Document.id)
        # Every row the page can reach, and no more: the ranked window, or the page's end if deeper.
        candidates = (
            select(Document.id, Document.created_at, Document.search_vector)
            .where(*conditions)
            .order_by(*newest_first)
            .limit(max(RANK_WINDOW, query.offset + query.limit))
            .subquery()
        )
        recency = func.row_number().over(order_by=(candidates.c.created_at.desc(), candidates.c.id))
        rank = case((recency <= RANK_WINDOW, func.ts_rank(candidates.c.search_vector, tsquery)))
        ranked = select(candidates.c.id, rank.label("rank"), candidates.c.created_at).subquery()
        in_order = (ranked.c.rank.desc().nulls_last(), ranked.c.created_at.desc(), ranked.c.id)
        page = select(ranked.c.id, ranked.c.rank).order_by(*in_order).limit(query.limit).offset(query.offset)
        page_ids = page.subquery()
        # ts_headline is costly, so it runs on the page's rows only.
        headline = func.ts_headline(
            literal_column("'english'"), func.coalesce(Document.text, ""), tsquery, PG_HEADLINE_OPTIONS
        )
        rows = (
            select(*hit_columns(), page_ids.c.rank.label("score"), headline.label("snippet"))
            .join(page_ids, page_ids.c.id == Document.id)
            .order_by(page_ids.c.rank.desc().nulls_last(), Document.created_at.desc(), Document.id)
        )
        return TextMatches(Document, conditions, rows, count_order=(Document.created_at.desc(),))
