"""Reads across a tenant's documents: search hits and the insights (sentiment, entities by day)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class SearchHitPublic(BaseModel):
    id: str
    title: str | None
    snippet: str
    source: str
    url: str | None
    sentiment: str | None
    created_at: datetime
    published_at: datetime | None = None
    score: float | None = None


class SearchResponse(BaseModel):
    hits: list[SearchHitPublic]
    total: int
    # "eq": `total` is the exact number of matches; "gte": at least `total` match (counting stops
    # at 1,000, and Meilisearch only estimates), as Elasticsearch's `hits.total.relation`.
    total_relation: Literal["eq", "gte"] = "eq"
    limit: int
    offset: int


class SentimentBucket(BaseModel):
    day: str
    positive: int
    neutral: int
    negative: int
    # Documents no sentiment model read (their language has none): not counted as neutral.
    unscored: int
    average_compound: float | None


class SentimentInsights(BaseModel):
    buckets: list[SentimentBucket]
    totals: dict[str, int]


class EntityCount(BaseModel):
    text: str
    label: str
    documents: int
    mentions: int


class EntityBucket(BaseModel):
    day: str
    entities: list[EntityCount]


class EntityInsights(BaseModel):
    top: list[EntityCount]
    buckets: list[EntityBucket]
