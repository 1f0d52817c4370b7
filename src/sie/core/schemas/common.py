"""The service's own answers: health, and the shape of every error."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ReplicaHealth(BaseModel):
    """The read replica (DATABASE_READ_URL) as `/health` found it. Never part of readiness: while it
    is down, its reads go to the primary."""

    state: Literal["up", "lagging", "down"]
    lag_seconds: float | None
    error: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
    search_backend: str
    queue: str
    version: str
    # null without DATABASE_READ_URL.
    replica: ReplicaHealth | None = None


class ErrorResponse(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """A 422: the fields at fault, or one sentence when the fault is not in a single field."""

    detail: list[FieldError] | str
