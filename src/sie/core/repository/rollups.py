"""Daily rollups of sentiment and entities: kept in step with the documents, and rebuilt from them.

Every write that changes what a `done` document contributes (the worker storing a result, a
reprocessed job replacing one, a deletion, a restore) calls `apply_rollups` in its own transaction:
the rollups commit or roll back with the document rows, so they never count a document that is not
there, nor miss one that is, and no job has to catch up (an incremental job would leave the insights
behind the documents and need a high-water mark that concurrent commits make unreliable). The cost
is one small upsert per rollup table and batch. Increments are `column = column + excluded.column`,
safe under concurrent batches, and every writer upserts the tables in the same order and the rows
of each in key order, so two batches lock shared rows in the same order (no deadlock). A row whose
documents reach zero is deleted, so the rollups hold exactly the rows a from-scratch aggregation
would: `rebuild_rollups` recomputes them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, Select, case, delete, func, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from sie.core.models import (
    Document,
    DocumentEntity,
    DocumentStatus,
    EntityDayRollup,
    EntityRollup,
    SentimentRollup,
)

SENTIMENT_LABELS = ("positive", "neutral", "negative")
SENTIMENT_COUNTS = (*SENTIMENT_LABELS, "unscored", "scored", "compound_sum")
ENTITY_COUNTS = ("documents", "mentions")
SentimentKey = tuple[str, date, str]  # tenant, day, source
EntityKey = tuple[str, date, str, str, str]  # tenant, day, source, text, label
EntityDayKey = tuple[str, date, str, str]  # tenant, day, text, label
# Rows per upsert statement: well under PostgreSQL's 65,535 bind parameters.
CHUNK = 1000


class utc_day(FunctionElement[date]):
    """The UTC calendar day of a timestamp column, in SQL."""

    type = Date()
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite holds the UTC time as text (`UtcDateTime`); `date()` reads its day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgres(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


def as_utc(moment: datetime) -> datetime:
    """A time in UTC; a naive one is taken as UTC, as `UtcDateTime` stores it."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def day_of(moment: datetime) -> date:
    """The UTC day a document counts on."""
    return as_utc(moment).date()


class RollupDelta:
    """What some documents add to (sign 1) or take from (sign -1) the rollups, merged per row."""

    def __init__(self) -> None:
        self.sentiment: dict[SentimentKey, dict[str, float]] = defaultdict(
            lambda: dict.fromkeys(SENTIMENT_COUNTS, 0)
        )
        self.entities: dict[EntityKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ENTITY_COUNTS, 0))

    def add(self, document: Document, entities: Iterable[tuple[str, str, int]], sign: int) -> None:
        """Count a document with its entity rows (text, label, count); only a `done` one counts."""
        if document.status != DocumentStatus.done:
            return
        key = (document.tenant, day_of(document.created_at), document.source)
        counts = self.sentiment[key]
        counts[document.sentiment_label or "unscored"] += sign
        if document.sentiment_compound is not None:
            counts["scored"] += sign
            counts["compound_sum"] += sign * document.sentiment_compound
        mentions: dict[tuple[str, str], int] = defaultdict(int)
        for text, label, count in entities:
            mentions[(text, label)] += count
        for (text, label), mentioned in mentions.items():
            entity = self.entities[(*key, text, label)]
            entity["documents"] += sign
            entity["mentions"] += sign * mentioned


def stored_entities(
    *, session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str, int]]]:
    """The entity rows of these documents as stored now, by document."""
    by_document: dict[uuid.UUID, list[tuple[str, str, int]]] = defaultdict(list)
    columns = (DocumentEntity.document_id, DocumentEntity.text, DocumentEntity.label, DocumentEntity.count)
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(*columns).where(DocumentEntity.document_id.in_(ids[start : start + CHUNK]))
        )
        for document_id, text, label, count in rows:
            by_document[document_id].append((text, label, count))
    return by_document


def stored_delta(
    *, session: Session, documents: Sequence[Document], sign: int, into: RollupDelta | None = None
) -> RollupDelta:
    """What these documents, with their entity rows as stored now, contribute, times `sign`
    (added to `into` when given)."""
    delta = into if into is not None else RollupDelta()
    done = [document for document in documents if document.status == DocumentStatus.done]
    entities = stored_entities(session=session, ids=[document.id for document in done]) if done else {}
    for document in done:
        delta.add(document, entities.get(document.id, ()), sign)
    return delta


def add_documents(*, session: Session, documents: Sequence[Document], sign: int = 1) -> None:
    """Add (or with sign -1 take away) what these documents contribute as stored now: for callers
    that insert or delete document rows outside the worker (a restore from the archive)."""
    apply_rollups(session=session, delta=stored_delta(session=session, documents=documents, sign=sign))


def apply_rollups(*, session: Session, delta: RollupDelta) -> None:
    """Write a delta into the rollups in the caller's transaction."""
    _apply(session, SentimentRollup, delta.sentiment, SENTIMENT_COUNTS)
    _apply(session, EntityRollup, delta.entities, ENTITY_COUNTS)
    _apply(session, EntityDayRollup, _all_sources(delta.entities), ENTITY_COUNTS)


def _all_sources(entities: dict[EntityKey, dict[str, int]]) -> dict[EntityDayKey, dict[str, int]]:
    merged: dict[EntityDayKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ENTITY_COUNTS, 0))
    for (tenant, day, _, text, label), counts in entities.items():
        for name, value in counts.items():
            merged[(tenant, day, text, label)][name] += value
    return merged


def _apply(
    session: Session,
    model: type[SentimentRollup | EntityRollup | EntityDayRollup],
    changes: dict[Any, Any],
    counts: Sequence[str],
) -> None:
    changed = sorted(key for key, values in changes.items() if any(values.values()))
    if not changed:
        return
    table = model.__table__
    keys = [column.name for column in table.primary_key.columns]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start : start + CHUNK]
        statement = dialect.insert(table).values(
            [{**dict(zip(keys, key, strict=True)), **changes[key]} for key in chunk]
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=keys,
                set_={name: table.c[name] + statement.excluded[name] for name in counts},
            )
        )
    # Rows whose documents reached zero go: the rollups then hold what a rebuild would.
    counted = (*SENTIMENT_LABELS, "unscored") if model is SentimentRollup else ("documents",)
    emptied = [key for key in changed if any(changes[key][name] < 0 for name in counted)]
    documents = sum(table.c[name] for name in counted)
    key_columns = tuple_(*(table.c[name] for name in keys))
    for start in range(0, len(emptied), CHUNK):
        session.execute(delete(table).where(key_columns.in_(emptied[start : start + CHUNK]), documents == 0))


def rebuild_rollups(*, session: Session, tenant: str | None = None) -> None:
    """Recompute the rollups (one tenant's, or all) from the documents: idempotent.

    On PostgreSQL the rollup tables are locked against writers first: a batch stored meanwhile then
    either committed before the recount (and is in it) or waits and adds itself after it."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(
            "LOCK TABLE sentiment_rollups, entity_rollups, entity_day_rollups IN EXCLUSIVE MODE"
        )
    for model in (SentimentRollup, EntityRollup, EntityDayRollup):
        removal = delete(model)
        session.execute(removal if tenant is None else removal.where(model.tenant == tenant))
    session.execute(insert(SentimentRollup).from_select(_sentiment_columns(), _sentiment_recount(tenant)))
    session.execute(insert(EntityRollup).from_select(_entity_columns(), _entity_recount(tenant)))
    session.execute(insert(EntityDayRollup).from_select(_entity_day_columns(), _entity_day_recount(tenant)))


def _sentiment_columns() -> list[str]:
    return ["tenant", "day", "source", *SENTIMENT_COUNTS]


def _entity_columns() -> list[str]:
    return ["tenant", "day", "source", "text", "label", *ENTITY_COUNTS]


def _entity_day_columns() -> list[str]:
    return ["tenant", "day", "text", "label", *ENTITY_COUNTS]


def _done(query: Select[Any], tenant: str | None) -> Select[Any]:
    query = query.where(Document.status == DocumentStatus.done)
    return query if tenant is None else query.where(Document.tenant == tenant)


def _sentiment_recount(tenant: str | None) -> Select[Any]:
    day = utc_day(Document.created_at)
    labels = [func.sum(case((Document.sentiment_label == label, 1), else_=0)) for label in SENTIMENT_LABELS]
    return _done(
        select(
            Document.tenant,
            day,
            Document.source,
            *labels,
            func.sum(case((Document.sentiment_label.is_(None), 1), else_=0)),
            func.count(Document.sentiment_compound),
            func.coalesce(func.sum(Document.sentiment_compound), 0.0),
        ),
        tenant,
    ).group_by(Document.tenant, day, Document.source)


def _entity_recount(tenant: str | None) -> Select[Any]:
    day = utc_day(Document.created_at)
    return _done(
        select(
            Document.tenant,
            day,
            Document.source,
            DocumentEntity.text,
            DocumentEntity.label,
            func.count(func.distinct(Document.id)),
            func.sum(DocumentEntity.count),
        ).join(DocumentEntity, DocumentEntity.document_id == Document.id),
        tenant,
    ).group_by(Document.tenant, day, Document.source, DocumentEntity.text, DocumentEntity.label)


def _entity_day_recount(tenant: str | None) -> Select[Any]:
    """The per-source rows just recounted, with the sources added up."""
    query = select(
        EntityRollup.tenant,
        EntityRollup.day,
        EntityRollup.text,
        EntityRollup.label,
        func.sum(EntityRollup.documents),
        func.sum(EntityRollup.mentions),
    )
    if tenant is not None:
        query = query.where(EntityRollup.tenant == tenant)
    return query.group_by(EntityRollup.tenant, EntityRollup.day, EntityRollup.text, EntityRollup.label)
