"""Tenant settings (admin): how long a tenant's documents are kept (docs/retention.md).

An admin key reads and sets its own tenant's retention; a key with the `system` scope, any tenant's.
`retention_days`: N days, 0 to keep the tenant's documents forever, or null to follow RETENTION_DAYS.
Retention itself runs in the scheduler, once an hour (or `sie retention run`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from sie.core.repository.retention import set_tenant_retention, tenant_retention
from sie.core.schemas import WITHOUT_NUL
from sie.core.schemas.tenants import RetentionPublic, RetentionUpdate
from sie_api.deps import AdminPrincipal, SessionDep, tenant_for

router = APIRouter(prefix="/v1/admin/tenants", tags=["tenants"])

TenantParam = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=WITHOUT_NUL,
        description="The tenant: the key's own, or any with the system scope",
    ),
]


@router.get("/{tenant}/retention", response_model=RetentionPublic)
def read_retention(tenant: TenantParam, principal: AdminPrincipal, session: SessionDep) -> RetentionPublic:
    """The tenant's own retention, the default, and the one that applies."""
    return tenant_retention(session=session, tenant=tenant_for(principal, tenant))


@router.put("/{tenant}/retention", response_model=RetentionPublic)
def update_retention(
    tenant: TenantParam, body: RetentionUpdate, principal: AdminPrincipal, session: SessionDep
) -> RetentionPublic:
    """Set the tenant's retention: days, 0 (kept forever), or null (follow RETENTION_DAYS)."""
    view = set_tenant_retention(
        session=session, tenant=tenant_for(principal, tenant), days=body.retention_days
    )
    session.commit()
    return view
