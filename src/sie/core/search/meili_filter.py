"""The Meilisearch filter for a search query: its expressions, quoted values, and dates as Unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime

from sie.core.search.base import SearchQuery


def search_filter(query: SearchQuery) -> list[str]:
    """The query's filters as Meilisearch filter expressions (an array means AND)."""
    filters = [f"tenant = {quote(query.tenant)}"]
    if query.source is not None:
        filters.append(f"source = {quote(query.source)}")
    if query.entity is not None:
        filters.append(f"entities = {quote(query.entity)}")
    if query.sentiment is not None:
        filters.append(f"sentiment_label = {quote(query.sentiment)}")
    if query.language is not None:
        filters.append(f"language = {quote(query.language)}")
    for name, low, high in (
        ("created_at_ts", query.date_from, query.date_to),
        ("published_at_ts", query.published_from, query.published_to),
    ):
        for operator, bound in ((">=", low), ("<=", high)):
            if bound is not None:
                filters.append(f"{name} {operator} {unix_seconds(bound):.6f}")
    return filters


def quote(value: str) -> str:
    """A filter value as a double-quoted string that reads back as exactly `value`.

    Meilisearch unescapes `\\"` and then backslash escapes (`\\\\`, `\\n`...), so backslashes are
    doubled first; otherwise a value ending in a backslash would swallow the closing quote.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unix_seconds(moment: datetime) -> float:
    """Naive datetimes are UTC, as everywhere in SIE's database."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
