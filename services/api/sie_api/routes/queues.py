"""The queues as a tenant's admin sees them: its own unfinished jobs per priority (not other tenants')."""

from __future__ import annotations

from fastapi import APIRouter

from sie.core.repository.jobs import backlog_by_priority
from sie.core.schemas import QueuesPublic
from sie_api.deps import AdminPrincipal, SessionDep

router = APIRouter(prefix="/v1/queues", tags=["queues"])


@router.get("", response_model=QueuesPublic)
def queue_backlog(principal: AdminPrincipal, session: SessionDep) -> QueuesPublic:
    """Per priority, highest first: the tenant's jobs waiting (`pending`) and being worked on (`running`)."""
    return QueuesPublic(backlog=backlog_by_priority(session=session, tenant=principal.tenant))
