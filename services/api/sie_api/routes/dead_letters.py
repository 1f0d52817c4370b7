"""The dead-letter queue through the API (admin): list, and replay with an audit trail.

An admin key sees and replays its own tenant's dead letters. A key with the `system` scope (the
operator's, `sie api-key create --system`) may name another tenant, or ask for every tenant's
with `all_tenants`. Every replayed letter records who replayed it (`replayed_by`): the key, and the
caller's own label such as `operator:<namespace>/<name>/<uid>`; `GET ?replayed=true` lists them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, model_validator
from sqlalchemy import func, select

from sie.core.engine.deadletter import replay_dead_letters
from sie.core.models import DeadLetter
from sie.core.repository.dead_letters import ReplaySelector, count_dead_letters, select_dead_letters
from sie.core.schemas import StrictModel
from sie.core.security import Principal
from sie_api.deps import AdminPrincipal, QueueDep, SessionDep, tenant_for
from sie_api.responses import TOO_LARGE

router = APIRouter(prefix="/v1/dead-letters", tags=["dead-letters"])

DRY_RUN_SAMPLE = 10


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


def _scope_tenant(principal: Principal, tenant: str | None, all_tenants: bool) -> str | None:
    """The tenant to filter on; None (every tenant) only for a system key that asked for it."""
    if not all_tenants:
        return tenant_for(principal, tenant)
    if not principal.has("system"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "all_tenants needs an API key with the 'system' scope")
    return None


def _letter(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": str(letter.id),
        "job_id": str(letter.job_id),
        "tenant": letter.tenant,
        "queue": letter.queue,
        "task": letter.task,
        "source": letter.source,
        "error": letter.error,
        "error_kind": letter.error_kind,
        "attempts": letter.attempts,
        "created_at": letter.created_at.isoformat(),
        "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
        "replayed_by": letter.replayed_by,
    }


@router.get("")
def list_dead_letters(
    principal: AdminPrincipal,
    session: SessionDep,
    replayed: bool = False,
    replayed_by: Annotated[
        str | None, Query(max_length=300, description="Replayed letters whose replayed_by contains this")
    ] = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
    all_tenants: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Dead letters (or, with `replayed=true`, the audit trail of replays), newest first.

    `count` is how many are listed; `total` how many match in all.
    """
    query = select(DeadLetter)
    scoped_tenant = _scope_tenant(principal, tenant, all_tenants)
    if scoped_tenant is not None:
        query = query.where(DeadLetter.tenant == scoped_tenant)
    query = query.where(DeadLetter.replayed_at.is_not(None) if replayed else DeadLetter.replayed_at.is_(None))
    if replayed_by is not None:
        query = query.where(DeadLetter.replayed_by.contains(replayed_by, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    letters = session.scalars(query.order_by(DeadLetter.created_at.desc()).limit(limit)).all()
    return {"dead_letters": [_letter(letter) for letter in letters], "count": len(letters), "total": total}


@router.post("/replay", responses=TOO_LARGE)
async def replay(
    body: ReplayRequest, principal: AdminPrincipal, session: SessionDep, queue: QueueDep
) -> dict[str, Any]:
    """Send up to `max_jobs` matching dead jobs back to their queues; each letter is replayed once."""
    selector = ReplaySelector(
        tenant=_scope_tenant(principal, body.tenant, body.all_tenants),
        queue=body.queue,
        task=body.task,
        error_contains=body.error_contains,
        source=body.source,
        since=body.since,
        until=body.until,
    )
    if body.dry_run:
        matched = min(count_dead_letters(session=session, selector=selector), body.max_jobs)
        sample = select_dead_letters(
            session=session, selector=selector, limit=min(DRY_RUN_SAMPLE, body.max_jobs)
        )
        response = {"dry_run": True, "matched": matched, "sample": [_letter(letter) for letter in sample]}
        session.rollback()  # the sample's row locks
        return response
    who = f"api:{principal.key_id}" + (f" ({body.replayed_by})" if body.replayed_by else "")
    letters = await run_in_threadpool(
        replay_dead_letters, queue, selector, replayed_by=who, limit=body.max_jobs
    )
    return {
        "dry_run": False,
        "matched": len(letters),
        "replayed": len(letters),
        "job_ids": [str(letter.job_id) for letter in letters],
    }
