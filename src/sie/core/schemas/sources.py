"""Sources (docs/sources.md): what a client or the operator declares, and the status the scheduler reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from sie.core.config import settings
from sie.core.durations import format_duration, parse_duration
from sie.core.schemas.base import OcrStrategyName, PriorityName, StrictModel
from sie.core.schemas.patterns import duration_pattern

SOURCE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$"
MAX_SOURCE_INTERVAL_SECONDS = 30 * 86_400
MIN_INTERVAL = settings.source_min_interval_seconds
MAX_AUTH_HEADER_CHARS = 8192


def _canonical_interval(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema's integer: 300.0 is one
    if isinstance(value, str | int) and not isinstance(value, bool):
        return format_duration(parse_duration(value))
    return value


def _schedulable_interval(value: str) -> str:
    seconds = parse_duration(value)
    if seconds < MIN_INTERVAL:
        raise ValueError(f"interval must be at least {format_duration(MIN_INTERVAL)}")
    if seconds > MAX_SOURCE_INTERVAL_SECONDS:
        raise ValueError(f"interval must be at most {format_duration(MAX_SOURCE_INTERVAL_SECONDS)}")
    return value


def _single_line_secret(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if not text or len(text) > MAX_AUTH_HEADER_CHARS or any(ch in text for ch in "\r\n\x00"):
        raise ValueError(f"auth_header must be one non-empty line of at most {MAX_AUTH_HEADER_CHARS} chars")
    return value


Interval = Annotated[str, BeforeValidator(_canonical_interval)]
SchedulableInterval = Annotated[
    Interval,
    AfterValidator(_schedulable_interval),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "integer",
                    "minimum": MIN_INTERVAL,
                    "maximum": MAX_SOURCE_INTERVAL_SECONDS,
                },
                {"type": "string", "pattern": duration_pattern(MIN_INTERVAL, MAX_SOURCE_INTERVAL_SECONDS)},
            ],
            # The pattern admits the one-unit spellings in range; compound ones (1h30m) are read too.
            "description": "Seconds, or a duration such as 90s, 5m, 2h or 1d",
        }
    ),
]
AuthHeaderValue = Annotated[
    SecretStr,
    AfterValidator(_single_line_secret),
    WithJsonSchema(
        {
            "type": "string",
            "format": "password",
            "writeOnly": True,
            "minLength": 1,
            "maxLength": MAX_AUTH_HEADER_CHARS,
            "pattern": "^[^\\r\\n\\x00]*$",
        }
    ),
]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,100}$")]
SourceName = Annotated[str, StringConstraints(pattern=SOURCE_NAME_PATTERN)]
SourceTypeName = Annotated[str, StringConstraints(min_length=1, max_length=30)]
# Shell-style globs matched against the whole item URL: `*` any run of characters, `?` one character.
UrlPattern = Annotated[str, StringConstraints(min_length=1, max_length=500)]
UrlPatterns = Annotated[list[UrlPattern], Field(max_length=50)]
SourceUrls = Annotated[list[AnyHttpUrl], Field(max_length=10_000)]


class SourceBase(StrictModel):
    type: SourceTypeName = Field(description="a registered source type (docs/sources.md)")
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


# The fields a PATCH may leave out but not set to null.
NOT_NULLABLE = (
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


def _without_null(schema: dict[str, Any]) -> None:
    """The schema of `SourceUpdate` as `_not_null` reads it: those fields are never null."""
    for name in NOT_NULLABLE:
        field = schema["properties"][name]
        (kept,) = [branch for branch in field.pop("anyOf") if branch.get("type") != "null"]
        field.update(kept)


class SourceUpdate(StrictModel):
    """`PATCH`: only the fields sent change; `url` and `auth_header` may be set to null to remove them."""

    model_config = ConfigDict(json_schema_extra=_without_null)

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

    @field_validator(*NOT_NULLABLE)
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
