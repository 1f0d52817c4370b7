"""The numbers behind the NLP Performance dashboard: sentiment and entities per tenant, by day.

Read from the daily rollups (`sie.core.models.rollups`), so a call costs days and entities, not
documents. A window therefore covers whole UTC days: a day counts when any part of it lies in
[date_from, date_to), so `from=2026-11-20T15:00:00Z` starts with all of 20 November, and
`to=2026-11-21T00:00:00Z` (or `to=2026-11-21`) ends with 20 November.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import Session

from sie.core.models import EntityDayRollup, EntityRollup, SentimentRollup
from sie.core.repository.rollups import SENTIMENT_LABELS, as_utc, day_of


@dataclass(frozen=True)
class InsightWindow:
    tenant: str
    source: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None

    def first_day(self) -> date | None:
        return day_of(self.date_from) if self.date_from is not None else None

    def end_day(self) -> date | None:
        """The first day after the window: `date_to`'s own day counts unless it starts there."""
        if self.date_to is None:
            return None
        end = as_utc(self.date_to)
        return end.date() if end.time() == time() else end.date() + timedelta(days=1)


Rollup = type[SentimentRollup] | type[EntityRollup] | type[EntityDayRollup]


def _days_in(window: InsightWindow, model: Rollup, query: Select[Any]) -> Select[Any]:
    """The window's rows of a rollup; with a source, `model` is one kept per source."""
    query = query.where(model.tenant == window.tenant)
    if window.source is not None:
        query = query.where(model.source == window.source)  # type: ignore[union-attr]
    if (first := window.first_day()) is not None:
        query = query.where(model.day >= first)
    if (end := window.end_day()) is not None:
        query = query.where(model.day < end)
    return query


def sentiment_by_day(*, session: Session, window: InsightWindow) -> dict[str, Any]:
    """Documents per sentiment label and day; `unscored` counts those no sentiment model read (their
    language has none), apart from `neutral`; the average compound is over scored documents only."""
    counts = {label: func.sum(getattr(SentimentRollup, label)) for label in (*SENTIMENT_LABELS, "unscored")}
    rows = session.execute(
        _days_in(
            window,
            SentimentRollup,
            select(
                SentimentRollup.day,
                *counts.values(),
                func.sum(SentimentRollup.compound_sum),
                func.sum(SentimentRollup.scored),
            ),
        )
        .group_by(SentimentRollup.day)
        .order_by(SentimentRollup.day)
    ).all()
    buckets = [
        {
            "day": str(row[0]),
            **{label: int(count or 0) for label, count in zip(counts, row[1:-2], strict=True)},
            "average_compound": round(float(row[-2]) / int(row[-1]), 4) if row[-1] else None,
        }
        for row in rows
    ]
    totals = {label: sum(bucket[label] for bucket in buckets) for label in counts}
    return {"buckets": buckets, "totals": totals}


def entities_by_day(
    *, session: Session, window: InsightWindow, top: int = 20, per_day: int = 10
) -> dict[str, Any]:
    """The `top` entities of the window and each day's first `per_day`, by documents then mentions
    (ties by text and label). Without a source filter, from the rows that add up every source."""
    model: type[EntityRollup] | type[EntityDayRollup] = (
        EntityRollup if window.source is not None else EntityDayRollup
    )
    documents, mentions = func.sum(model.documents), func.sum(model.mentions)
    top_rows = session.execute(
        _days_in(window, model, select(model.text, model.label, documents, mentions))
        .group_by(model.text, model.label)
        .order_by(documents.desc(), mentions.desc(), model.text, model.label)
        .limit(top)
    ).all()
    leaders = _daily_leaders if session.get_bind().dialect.name == "postgresql" else _daily_ranked
    per_bucket: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bucket_day, text, label, doc_count, mention_count in session.execute(leaders(window, model, per_day)):
        per_bucket[str(bucket_day)].append(_entity(text, label, doc_count, mention_count))
    return {
        "top": [_entity(*row) for row in top_rows],
        "buckets": [{"day": bucket_day, "entities": entries} for bucket_day, entries in per_bucket.items()],
    }


def _ranking(model: type[EntityRollup] | type[EntityDayRollup]) -> tuple[Any, ...]:
    return (model.documents.desc(), model.mentions.desc(), model.text, model.label)


def _daily_leaders(
    window: InsightWindow, model: type[EntityRollup] | type[EntityDayRollup], per_day: int
) -> Select[Any]:
    """PostgreSQL: for each day of the window, its first `per_day` rows straight off the ranking
    index (a LATERAL top-N a day), never sorting a whole day. The days are the sentiment rollup's:
    a day with entities always has a row there."""
    days = _days_in(window, SentimentRollup, select(SentimentRollup.day).distinct()).subquery()
    leaders = (
        _days_in(window, model, select(model.text, model.label, model.documents, model.mentions))
        .where(model.day == days.c.day)
        .order_by(*_ranking(model))
        .limit(per_day)
        .lateral()
    )
    return (
        select(days.c.day, leaders.c.text, leaders.c.label, leaders.c.documents, leaders.c.mentions)
        .select_from(days.join(leaders, true()))
        .order_by(
            days.c.day, leaders.c.documents.desc(), leaders.c.mentions.desc(), leaders.c.text, leaders.c.label
        )
    )


def _daily_ranked(
    window: InsightWindow, model: type[EntityRollup] | type[EntityDayRollup], per_day: int
) -> Select[Any]:
    """SQLite (no LATERAL; local mode's volumes): a window function ranks each day's rows."""
    rank = func.row_number().over(partition_by=model.day, order_by=_ranking(model)).label("rank")
    ranked = _days_in(
        window, model, select(model.day, model.text, model.label, model.documents, model.mentions, rank)
    ).subquery()
    return (
        select(ranked.c.day, ranked.c.text, ranked.c.label, ranked.c.documents, ranked.c.mentions)
        .where(ranked.c.rank <= per_day)
        .order_by(ranked.c.day, ranked.c.rank)
    )


def _entity(text: str, label: str, documents: int, mentions: int) -> dict[str, Any]:
    return {"text": text, "label": label, "documents": int(documents), "mentions": int(mentions)}
