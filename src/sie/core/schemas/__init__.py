"""The API's request and response bodies (Pydantic); shared by the API, the CLI client and the operator.

One module per resource (documents and jobs, search and insights, sources, dead letters), the
shared base in `base`, health and error shapes in `common`; import them from `sie.core.schemas`.
"""

from sie.core.schemas.base import JobStatusName, OcrStrategyName, PriorityName, StrictModel
from sie.core.schemas.common import ErrorResponse, FieldError, HealthResponse, ValidationErrorResponse
from sie.core.schemas.dead_letters import (
    DeadLetterPublic,
    DeadLettersPublic,
    ReplayAnswer,
    ReplayDone,
    ReplayPreview,
    ReplayRequest,
)
from sie.core.schemas.documents import (
    Accepted,
    BatchAccepted,
    BatchCreate,
    DocumentCreate,
    DocumentPublic,
    EntityPublic,
    JobPublic,
    SentimentPublic,
)
from sie.core.schemas.search import (
    EntityBucket,
    EntityCount,
    EntityInsights,
    SearchHitPublic,
    SearchResponse,
    SentimentBucket,
    SentimentInsights,
)
from sie.core.schemas.sources import (
    MAX_AUTH_HEADER_CHARS,
    MAX_SOURCE_INTERVAL_SECONDS,
    SOURCE_NAME_PATTERN,
    SourceBase,
    SourceCreate,
    SourcePublic,
    SourcesPublic,
    SourceStatus,
    SourceUpdate,
    SourceUpsert,
)

__all__ = [
    "MAX_AUTH_HEADER_CHARS",
    "MAX_SOURCE_INTERVAL_SECONDS",
    "SOURCE_NAME_PATTERN",
    "Accepted",
    "BatchAccepted",
    "BatchCreate",
    "DeadLetterPublic",
    "DeadLettersPublic",
    "DocumentCreate",
    "DocumentPublic",
    "EntityBucket",
    "EntityCount",
    "EntityInsights",
    "EntityPublic",
    "ErrorResponse",
    "FieldError",
    "HealthResponse",
    "JobPublic",
    "JobStatusName",
    "OcrStrategyName",
    "PriorityName",
    "ReplayAnswer",
    "ReplayDone",
    "ReplayPreview",
    "ReplayRequest",
    "SearchHitPublic",
    "SearchResponse",
    "SentimentBucket",
    "SentimentInsights",
    "SentimentPublic",
    "SourceBase",
    "SourceCreate",
    "SourcePublic",
    "SourceStatus",
    "SourceUpdate",
    "SourceUpsert",
    "SourcesPublic",
    "StrictModel",
    "ValidationErrorResponse",
]
