"""The dead-letter queue through the API: the letters, and a replay's request and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sie.core.schemas.base import StrictModel


class DeadLetterPublic(BaseModel):
    """One dead-lettered job; `replayed_at`/`replayed_by` are set once it was sent back."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_id: uuid.UUID
    tenant: str
    queue: str
    task: str
    source: str | None
    error: str
    error_kind: str
    attempts: int
    created_at: datetime
    replayed_at: datetime | None
    replayed_by: str | None


class DeadLettersPublic(BaseModel):
    """`count`: how many are listed; `total`: how many match in all."""

    dead_letters: list[DeadLetterPublic]
    count: int
    total: int


class ReplayRequest(StrictModel):
    tenant: str | None = Field(default=None, max_length=100)
    all_tenants: bool = False
    queue: str | None = None
    task: str | None = None
    error_contains: str | None = Field(default=None, max_length=500)
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    max_jobs: int = Field(default=100, ge=1, le=10_000)
    dry_run: bool = False
    replayed_by: str | None = Field(default=None, max_length=250)

    @model_validator(mode="after")
    def _one_tenant_choice(self) -> ReplayRequest:
        if self.all_tenants and self.tenant is not None:
            raise ValueError("give either 'tenant' or 'all_tenants', not both")
        return self


class ReplayPreview(BaseModel):
    """A dry run: how many letters a replay would send back, and a sample of them."""

    dry_run: Literal[True] = True
    matched: int
    sample: list[DeadLetterPublic]


class ReplayDone(BaseModel):
    """A replay: the jobs sent back to their queues."""

    dry_run: Literal[False] = False
    matched: int
    replayed: int
    job_ids: list[str]


ReplayAnswer = Annotated[ReplayPreview | ReplayDone, Field(discriminator="dry_run")]
