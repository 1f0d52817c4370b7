"""Per-tenant settings: what an operator overrides for one tenant (today, its retention)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sie.core.models.base import Base, utcnow


class TenantSettings(Base):
    """One row per tenant that overrides a setting; a tenant without a row follows the defaults."""

    __tablename__ = "tenant_settings"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Days a document is kept: NULL follows RETENTION_DAYS, 0 keeps this tenant's documents forever.
    retention_days: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
