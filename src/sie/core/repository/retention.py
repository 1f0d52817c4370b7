"""Retention per tenant: each tenant's setting, which documents have expired (docs/retention.md).

A tenant's own `retention_days` wins over RETENTION_DAYS: N days, or 0 for "kept forever"; NULL (or
no row) follows RETENTION_DAYS. Deleting and archiving are the engine's (`sie.core.engine.retention`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sie.core.config import settings
from sie.core.models import Document, TenantSettings
from sie.core.schemas.tenants import RetentionPublic


def effective_days(own: int | None, default: int | None) -> int | None:
    """Days a tenant's documents are kept, from its own setting and the default; None: forever."""
    if own is None:
        return default
    return own or None


def tenant_retention(*, session: Session, tenant: str) -> RetentionPublic:
    own = session.scalar(select(TenantSettings.retention_days).where(TenantSettings.tenant == tenant))
    return _public(tenant, own)


def set_tenant_retention(*, session: Session, tenant: str, days: int | None) -> RetentionPublic:
    """Set (days; 0 for off) or clear (None: follow RETENTION_DAYS) a tenant's own retention."""
    row = session.get(TenantSettings, tenant, with_for_update=True)
    if row is None:
        row = TenantSettings(tenant=tenant)
        session.add(row)
    row.retention_days = days
    session.flush()
    return _public(tenant, days)


def tenant_retentions(*, session: Session) -> list[RetentionPublic]:
    """The tenants with a setting of their own, by name."""
    rows = session.execute(
        select(TenantSettings.tenant, TenantSettings.retention_days)
        .where(TenantSettings.retention_days.is_not(None))
        .order_by(TenantSettings.tenant)
    )
    return [_public(tenant, days) for tenant, days in rows]


def tenants_to_expire(*, session: Session, tenant: str | None = None) -> list[tuple[str, int]]:
    """(tenant, days) for each tenant (or just `tenant`) whose documents retention applies to."""
    own = {view.tenant: view.retention_days for view in tenant_retentions(session=session)}
    if tenant is not None:
        days = effective_days(own.get(tenant), settings.retention_days)
        return [(tenant, days)] if days else []
    tenants = set(own)
    if settings.retention_days is not None:
        # Every tenant with documents follows the default unless it has its own setting.
        tenants |= set(session.scalars(select(Document.tenant).distinct()))
    pairs = ((name, effective_days(own.get(name), settings.retention_days)) for name in sorted(tenants))
    return [(name, days) for name, days in pairs if days]


def expired_document_ids(*, session: Session, tenant: str, before: datetime, limit: int) -> list[uuid.UUID]:
    """The tenant's oldest documents created before `before`, oldest first (its created_at index)."""
    return list(
        session.scalars(
            select(Document.id)
            .where(Document.tenant == tenant, Document.created_at < before)
            .order_by(Document.created_at, Document.id)
            .limit(limit)
        )
    )


def count_expired(*, session: Session, tenant: str, before: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.tenant == tenant, Document.created_at < before)
        )
        or 0
    )


def _public(tenant: str, own: int | None) -> RetentionPublic:
    return RetentionPublic(
        tenant=tenant,
        retention_days=own,
        default_days=settings.retention_days,
        effective_days=effective_days(own, settings.retention_days),
    )
