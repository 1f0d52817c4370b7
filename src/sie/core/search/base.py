"""The one search interface: a Meilisearch adapter and a built-in database backend implement it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from sie.core.errors import InvalidRequest

# `total` counts matches exactly up to here; beyond, it says "at least this many" (`gte`). Counting
# reads every match it counts, so this is what a common word costs (the same bound as Meilisearch's
# default `maxTotalHits`, and as the PostgreSQL backend's ranked window).
TOTAL_EXACT_UP_TO = 1_000
# The deepest result a page may reach (offset + limit), as Elasticsearch's `max_result_window`:
# deeper pages cost as much as reading every result before them. Narrow the search instead.
MAX_RESULT_WINDOW = 10_000


@dataclass(frozen=True)
class SearchDocument:
    """What the index holds for one document (the text plus the fields search filters on)."""

    id: str
    tenant: str
    title: str | None
    text: str
    source: str
    url: str | None
    created_at: datetime
    published_at: datetime | None = None
    entities: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    sentiment_label: str | None = None
    sentiment_compound: float | None = None
    language: str | None = None


@dataclass(frozen=True)
class SearchQuery:
    tenant: str
    q: str = ""
    source: str | None = None
    entity: str | None = None
    sentiment: str | None = None
    language: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    # The publication date the page or its feed entry gave; documents without one never match.
    published_from: datetime | None = None
    published_to: datetime | None = None
    limit: int = 20
    offset: int = 0

    def __post_init__(self) -> None:
        if self.offset + self.limit > MAX_RESULT_WINDOW:
            raise InvalidRequest(
                f"offset + limit may not exceed {MAX_RESULT_WINDOW} (the deepest result search pages "
                f"through); got {self.offset} + {self.limit}: narrow the search with filters instead"
            )


@dataclass(frozen=True)
class SearchHit:
    id: str
    title: str | None
    # A short piece of the text around the match, matched terms wrapped in <mark>...</mark>.
    snippet: str
    source: str
    url: str | None
    sentiment_label: str | None
    created_at: datetime
    score: float | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    total: int
    # As Elasticsearch's `hits.total.relation`: "eq" when `total` is the exact number of matches,
    # "gte" when at least that many match (past TOTAL_EXACT_UP_TO, or Meilisearch's estimate).
    total_relation: Literal["eq", "gte"] = "eq"


class SearchBackend(Protocol):
    """Every call has a timeout; an unreachable backend raises `ServiceUnavailable("search")`."""

    name: str

    def ensure_ready(self) -> None:
        """Create the index and apply its settings (idempotent); called before the first write."""

    def index_documents(self, documents: Sequence[SearchDocument]) -> None:
        """Add or replace documents (upsert by id), in batches."""

    def delete_documents(self, ids: Sequence[str]) -> None: ...

    def search(self, query: SearchQuery) -> SearchResults:
        """Only documents of `query.tenant`, ever."""

    def check(self) -> None:
        """Raise `ServiceUnavailable` when the backend cannot serve."""
