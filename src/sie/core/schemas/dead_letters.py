"""The dead-letter queue through the API: the letters, and what replays and discards ask and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sie.core.schemas.base import DateTimeInput, StrictModel


class DeadLetterPublic(BaseModel):
    """One dead-lettered job; `replayed_at`/`replayed_by` are set once it was sent back,
    `discarded_at`/`discarded_by` once it was given up on."""

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
    discarded_at: datetime | None
    discarded_by: str | None


class DeadLettersPublic(BaseModel):
    """`count`: how many are listed; `total`: how many match in all."""

    dead_letters: list[DeadLetterPublic]
    count: int
    total: int


class DeadLetterSelection(StrictModel):
    """Which pending dead letters a replay or a discard takes: every field narrows the match."""

    # The schema says what `_one_tenant_choice` checks: `all_tenants: true` and a `tenant` not both.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"all_tenants": {"const": False}}},
                {"properties": {"tenant": {"type": "null"}}},
            ]
        }
    )

    tenant: str | None = Field(default=None, max_length=100)
    all_tenants: bool = False
    queue: str | None = None
    task: str | None = None
    error_contains: str | None = Field(default=None, max_length=500)
    source: str | None = None
    since: DateTimeInput | None = None
    until: DateTimeInput | None = None
    max_jobs: int = Field(default=100, ge=1, le=10_000)
    dry_run: bool = False

    @model_validator(mode="after")
    def _one_tenant_choice(self) -> Self:
        if self.all_tenants and self.tenant is not None:
            raise ValueError("give either 'tenant' or 'all_tenants', not both")
        return self


class ReplayRequest(DeadLetterSelection):
    replayed_by: str | None = Field(default=None, max_length=250)


class DiscardRequest(DeadLetterSelection):
    discarded_by: str | None = Field(default=None, max_length=250)


class ReplayPreview(BaseModel):
    """A dry run: how many letters a replay (or a discard) would take, and a sample of them."""

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


class DiscardDone(BaseModel):
    """A discard: the jobs given up on (they stay dead), recorded with who discarded them."""

    dry_run: Literal[False] = False
    matched: int
    discarded: int
    job_ids: list[str]


DiscardAnswer = Annotated[ReplayPreview | DiscardDone, Field(discriminator="dry_run")]
