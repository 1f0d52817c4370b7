"""Documents and jobs: what a client pushes, and what it reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from sie.core.config import settings
from sie.core.schemas.base import (
    JobStatusName,
    OcrStrategyName,
    PriorityName,
    StorableObject,
    StrictModel,
)

# What `_text_not_blank` checks, as the schema says it: a character `str.strip` would not remove,
# spelled out so that every regex dialect reads it alike.
NOT_ONLY_WHITESPACE = r"[^\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class DocumentCreate(StrictModel):
    # "Exactly one of text or url", as the schema says it: a null counts as absent.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["url"], "properties": {"url": {"type": "string"}}},
            ]
        }
    )

    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=settings.max_text_chars,
        json_schema_extra={"pattern": NOT_ONLY_WHITESPACE},
    )
    url: AnyHttpUrl | None = None
    title: str | None = Field(default=None, max_length=1000)
    source: str = Field(default="api", min_length=1, max_length=200, pattern=r"^[\w.:/@-]+$")
    priority: PriorityName = "normal"
    metadata: StorableObject = Field(default_factory=dict)
    external_id: str | None = Field(default=None, max_length=500)
    ocr_strategy: OcrStrategyName = "auto"

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("text must contain something other than whitespace")
        return value

    @model_validator(mode="after")
    def _exactly_one_content(self) -> DocumentCreate:
        if (self.text is None) == (self.url is None):
            raise ValueError("give exactly one of 'text' or 'url'")
        return self


class BatchCreate(StrictModel):
    # Over the limit is a 413 from the route; the schema states the limit.
    documents: list[DocumentCreate] = Field(
        min_length=1, json_schema_extra={"maxItems": settings.max_batch_documents}
    )


class Accepted(BaseModel):
    job_id: str
    document_id: str
    status: str
    duplicate: bool = False


class BatchAccepted(BaseModel):
    results: list[Accepted]
    count: int


class JobPublic(BaseModel):
    id: str
    status: JobStatusName
    attempts: int
    error: str | None = None
    document_id: str
    queue: str
    created_at: datetime
    finished_at: datetime | None = None


class EntityPublic(BaseModel):
    text: str
    label: str
    count: int


class SentimentPublic(BaseModel):
    compound: float
    label: Literal["positive", "neutral", "negative"]


class DocumentPublic(BaseModel):
    id: str
    status: str
    title: str | None
    url: str | None
    source: str
    external_id: str | None
    content_type: str | None
    text: str | None
    language: str | None
    # What the page says about itself; `published_at` is a feed entry's own date when it gave one.
    author: str | None
    published_at: datetime | None
    canonical_url: str | None
    site_name: str | None
    description: str | None
    content_hash: str | None
    duplicate_of: str | None
    entities: list[EntityPublic]
    keywords: list[str]
    sentiment: SentimentPublic | None
    extraction: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime
    processed_at: datetime | None
    indexed: bool
