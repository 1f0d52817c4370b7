"""SQLAlchemy 2 models: the schema Alembic migrates (a test keeps the two in agreement).

One module per concern; importing this package registers every table on `Base.metadata`. The
migrations name `sie.core.models.UtcDateTime`, so it stays importable from here.
"""

from sie.core.models.api import ApiKey, IdempotencyRecord
from sie.core.models.base import Base, DocumentStatus, JobKind, JobStatus, Priority, UtcDateTime, utcnow
from sie.core.models.documents import Document, DocumentBlob, DocumentEntity
from sie.core.models.jobs import DeadLetter, Job
from sie.core.models.sources import Source, SourceItem

__all__ = [
    "ApiKey",
    "Base",
    "DeadLetter",
    "Document",
    "DocumentBlob",
    "DocumentEntity",
    "DocumentStatus",
    "IdempotencyRecord",
    "Job",
    "JobKind",
    "JobStatus",
    "Priority",
    "Source",
    "SourceItem",
    "UtcDateTime",
    "utcnow",
]
