"""A tenant's retention as the admin API reads and sets it (`/v1/admin/tenants/{tenant}/retention`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sie.core.schemas.base import StrictModel

# A hundred years: anything longer is a typo for "keep forever" (0).
MAX_RETENTION_DAYS = 36_500


class RetentionUpdate(StrictModel):
    """`retention_days`: days this tenant's documents are kept; 0 keeps them forever (retention off
    for this tenant); null follows the deployment's RETENTION_DAYS."""

    retention_days: int | None = Field(ge=0, le=MAX_RETENTION_DAYS)


class RetentionPublic(BaseModel):
    tenant: str
    # The tenant's own setting: days, 0 (off for this tenant), or null (it follows `default_days`).
    retention_days: int | None
    # RETENTION_DAYS; null when retention is off by default.
    default_days: int | None
    # What retention applies: documents older than this many days are archived and deleted; null: kept.
    effective_days: int | None
