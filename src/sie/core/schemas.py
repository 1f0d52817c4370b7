"""The API's request and response bodies (Pydantic); shared by the API, the CLI client and the operator."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from sie.core.config import settings
from sie.core.durations import format_duration, parse_duration

PriorityName = Literal["low", "normal", "high"]
OcrStrategyName = Literal["auto", "ocr_only", "no_ocr"]
JobStatusName = Literal["pending", "running", "done", "failed", "dead"]


def _storable(value: object) -> object:
    """Refuse what PostgreSQL cannot store: NUL characters, unpaired surrogates, NaN and infinities.

    Walks nested metadata with its own stack, so depth costs no recursion.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("must not contain NUL characters")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must not contain unpaired surrogate code points") from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must be a finite number")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return value


class StrictModel(BaseModel):
    # A typo in a field name is an error the client should hear about, not a silent default.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _values_are_storable(cls, value: object) -> object:
        return _storable(value)


class DocumentCreate(StrictModel):
    text: str | None = Field(default=None, min_length=1, max_length=settings.max_text_chars)
    url: AnyHttpUrl | None = None
    title: str | None = Field(default=None, max_length=1000)
    source: str = Field(default="api", min_length=1, max_length=200, pattern=r"^[\w.:/@-]+$")
    priority: PriorityName = "normal"
    metadata: dict[str, Any] = Field(default_factory=dict)
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
    documents: list[DocumentCreate] = Field(min_length=1)


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


class SearchHitPublic(BaseModel):
    id: str
    title: str | None
    snippet: str
    source: str
    url: str | None
    sentiment: str | None
    created_at: datetime
    score: float | None = None


class SearchResponse(BaseModel):
    hits: list[SearchHitPublic]
    total: int
    limit: int
    offset: int


class SentimentBucket(BaseModel):
    day: str
    positive: int
    neutral: int
    negative: int
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


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
    search_backend: str
    queue: str
    version: str


class ErrorResponse(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """A 422: the fields at fault, or one sentence when the fault is not in a single field."""

    detail: list[FieldError] | str


# Sources (docs/sources.md): what a client or the operator declares, and the status the scheduler reports.
SOURCE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$"
MAX_SOURCE_INTERVAL_SECONDS = 30 * 86_400
MAX_AUTH_HEADER_CHARS = 8192


def _canonical_interval(value: object) -> object:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return format_duration(parse_duration(value))
    return value


def _schedulable_interval(value: str) -> str:
    seconds = parse_duration(value)
    if seconds < settings.source_min_interval_seconds:
        raise ValueError(f"interval must be at least {format_duration(settings.source_min_interval_seconds)}")
    if seconds > MAX_SOURCE_INTERVAL_SECONDS:
        raise ValueError(f"interval must be at most {format_duration(MAX_SOURCE_INTERVAL_SECONDS)}")
    return value


def _single_line_secret(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if not text or len(text) > MAX_AUTH_HEADER_CHARS or any(ch in text for ch in "\r\n\x00"):
        raise ValueError(f"auth_header must be one non-empty line of at most {MAX_AUTH_HEADER_CHARS} chars")
    return value


Interval = Annotated[str, BeforeValidator(_canonical_interval)]
SchedulableInterval = Annotated[Interval, AfterValidator(_schedulable_interval)]
AuthHeaderValue = Annotated[SecretStr, AfterValidator(_single_line_secret)]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,100}$")]
SourceName = Annotated[str, StringConstraints(pattern=SOURCE_NAME_PATTERN)]
SourceTypeName = Annotated[str, StringConstraints(min_length=1, max_length=30)]
# Shell-style globs matched against the whole item URL: `*` any run of characters, `?` one character.
UrlPattern = Annotated[str, StringConstraints(min_length=1, max_length=500)]
UrlPatterns = Annotated[list[UrlPattern], Field(max_length=50)]
SourceUrls = Annotated[list[AnyHttpUrl], Field(max_length=10_000)]


class SourceBase(StrictModel):
    type: SourceTypeName = Field(description="rss, atom, url_list or sitemap")
    url: AnyHttpUrl | None = None
    urls: SourceUrls = Field(default_factory=list)
    interval: Interval = "5m"
    priority: PriorityName = "normal"
    suspend: bool = False
    ocr_strategy: OcrStrategyName = "auto"
    auth_header_name: HeaderName = "Authorization"
    include_patterns: UrlPatterns = Field(default_factory=list)
    exclude_patterns: UrlPatterns = Field(default_factory=list)


class SourceUpsert(SourceBase):
    """`PUT /v1/sources/{name}`: the whole spec. What it leaves out takes its default (an omitted
    `auth_header` is removed), so sending the same body again changes nothing."""

    interval: SchedulableInterval = "5m"
    tenant: str | None = Field(default=None, max_length=100)
    # The header's value, e.g. "Bearer <token>" from a Kubernetes Secret; write-only. Whether `type`
    # fits `url`/`urls` is checked when the spec is applied, so no error ever echoes this body back.
    auth_header: AuthHeaderValue | None = None


class SourceCreate(SourceUpsert):
    name: SourceName


class SourceUpdate(StrictModel):
    """`PATCH`: only the fields sent change; `url` and `auth_header` may be set to null to remove them."""

    type: SourceTypeName | None = None
    url: AnyHttpUrl | None = None
    urls: SourceUrls | None = None
    interval: SchedulableInterval | None = None
    priority: PriorityName | None = None
    suspend: bool | None = None
    ocr_strategy: OcrStrategyName | None = None
    auth_header_name: HeaderName | None = None
    auth_header: AuthHeaderValue | None = None
    include_patterns: UrlPatterns | None = None
    exclude_patterns: UrlPatterns | None = None

    @field_validator(
        "type",
        "urls",
        "interval",
        "priority",
        "suspend",
        "ocr_strategy",
        "auth_header_name",
        "include_patterns",
        "exclude_patterns",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value


class SourceStatus(BaseModel):
    """What an `IngestionSource`'s status shows."""

    next_run_at: datetime
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    items_seen: int
    items_ingested: int
    items_skipped: int
    items_failed: int
    consecutive_failures: int
    last_error: str | None
    last_poll: dict[str, Any] | None
    polling: bool


class SourcePublic(SourceBase):
    id: str
    name: str
    tenant: str
    interval_seconds: int
    auth_header_set: bool
    generation: int
    created_at: datetime
    updated_at: datetime
    status: SourceStatus


class SourcesPublic(BaseModel):
    data: list[SourcePublic]
    count: int
