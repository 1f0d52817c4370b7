"""The service's own answers: health, and the shape of every error."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


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
