"""Full-text search on PostgreSQL: `tsvector`/`tsquery` on the GIN expression index of `documents`.

The initial migration creates the index, so nothing lives beside `documents` and writes need
nothing here; `DatabaseSearch` stamps `indexed_at`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from sie.core.models import Document
from sie.core.search.base import SearchDocument, SearchQuery
from sie.core.search.sql import TextMatches, document_filters, hit_columns, one_page

# Identical, character for character, to the expression of the `ix_documents_search` GIN index,
# and spelled out literally (no bound parameters) so the planner can match it to the index.
PG_DOCUMENT_VECTOR = literal_column(
    "to_tsvector('english', coalesce(documents.title, '') || ' ' || coalesce(documents.text, ''))"
)
PG_HEADLINE_OPTIONS = "StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=2"


class PostgresFullText:
    def create(self, session: Session) -> None:
        return None  # the GIN index comes with the migration

    def store(self, session: Session, documents: Sequence[SearchDocument]) -> None:
        return None  # the index follows `documents` by itself

    def remove(self, session: Session, ids: Sequence[uuid.UUID]) -> None:
        return None

    def matches(self, query: SearchQuery, q: str) -> TextMatches:
        tsquery = func.websearch_to_tsquery(literal_column("'english'"), q)
        conditions = [*document_filters(query), PG_DOCUMENT_VECTOR.op("@@")(tsquery)]
        rank = func.ts_rank_cd(PG_DOCUMENT_VECTOR, tsquery)
        # Rank and cut the page first; ts_headline is costly, so it runs on the page's rows only.
        ranked = one_page(
            select(Document.id, rank.label("rank"))
            .where(*conditions)
            .order_by(rank.desc(), Document.created_at.desc(), Document.id),
            query,
        ).subquery()
        headline = func.ts_headline(
            literal_column("'english'"), func.coalesce(Document.text, ""), tsquery, PG_HEADLINE_OPTIONS
        )
        page = (
            select(*hit_columns(), ranked.c.rank.label("score"), headline.label("snippet"))
            .join(ranked, ranked.c.id == Document.id)
            .order_by(ranked.c.rank.desc(), Document.created_at.desc(), Document.id)
        )
        return TextMatches(Document, conditions, page)
