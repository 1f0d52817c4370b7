"""SQLAlchemy 2 models: the schema Alembic migrates (a test keeps the two in agreement).

One module per concern; importing this package registers every table on `Base.metadata`. The
migrations name `sie.core.models.UtcDateTime`, so it stays importable from here.
"""

from sie.core.models.api import ApiKey, IdempotencyRecord
from sie.core.models.base import Base, DocumentStatus, JobKind, JobStatus, Priority, UtcDateTime, utcnow
from sie.core.models.documents import Document, DocumentBlob, DocumentContent, DocumentEntity
from sie.core.models.jobs import DeadLetter, Job
from sie.core.models.rollups import EntityDayRollup, EntityRollup, SentimentRollup
from sie.core.models.sources import Source, SourceItem
from sie.core.models.tenants import TenantSettings

__all__ = [
    "ApiKey",
    "Base",
    "DeadLetter",
    "Document",
    "DocumentBlob",
    "DocumentContent",
    "DocumentEntity",
    "DocumentStatus",
    "EntityDayRollup",
    "EntityRollup",
    "IdempotencyRecord",
    "Job",
    "JobKind",
    "JobStatus",
    "Priority",
    "SentimentRollup",
    "Source",
    "SourceItem",
    "TenantSettings",
    "UtcDateTime",
    "utcnow",
]
