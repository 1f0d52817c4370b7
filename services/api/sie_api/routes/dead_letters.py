"""The dead-letter queue through the API (admin): list, and replay with an audit trail.

An admin key sees and replays its own tenant's dead letters. A key with the `system` scope (the
operator's, `sie api-key create --system`) may name another tenant, or ask for every tenant's
with `all_tenants`. Every replayed letter records who replayed it (`replayed_by`): the key, and the
caller's own label such as `operator:<namespace>/<name>/<uid>`; `GET ?replayed=true` lists them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from sie.core.engine.deadletter import replay_dead_letters
from sie.core.errors import Forbidden
from sie.core.queues import JobQueue
from sie.core.repository.dead_letters import (
    ReplaySelector,
    count_dead_letters,
    find_dead_letters,
    select_dead_letters,
)
from sie.core.schemas import (
    DeadLetterPublic,
    DeadLettersPublic,
    ReplayAnswer,
    ReplayDone,
    ReplayPreview,
    ReplayRequest,
)
from sie.core.security import Principal
from sie_api.deps import AdminPrincipal, QueueDep, SessionDep, tenant_for
from sie_api.responses import TOO_LARGE

router = APIRouter(prefix="/v1/dead-letters", tags=["dead-letters"])

DRY_RUN_SAMPLE = 10


def _scope_tenant(principal: Principal, tenant: str | None, all_tenants: bool) -> str | None:
    """The tenant to filter on; None (every tenant) only for a system key that asked for it."""
    if not all_tenants:
        return tenant_for(principal, tenant)
    if not principal.has("system"):
        raise Forbidden("all_tenants needs an API key with the 'system' scope")
    return None


@router.get("", response_model=DeadLettersPublic)
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
) -> DeadLettersPublic:
    """Dead letters (or, with `replayed=true`, the audit trail of replays), newest first.

    `count` is how many are listed; `total` how many match in all.
    """
    letters, total = find_dead_letters(
        session=session,
        tenant=_scope_tenant(principal, tenant, all_tenants),
        replayed=replayed,
        replayed_by=replayed_by,
        limit=limit,
    )
    return DeadLettersPublic(
        dead_letters=[DeadLetterPublic.model_validate(letter) for letter in letters],
        count=len(letters),
        total=total,
    )


@router.post("/replay", response_model=ReplayAnswer, responses=TOO_LARGE)
async def replay(
    body: ReplayRequest, principal: AdminPrincipal, session: SessionDep, queue: QueueDep
) -> ReplayPreview | ReplayDone:
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
        return _preview(session, selector, body.max_jobs)
    who = f"api:{principal.key_id}" + (f" ({body.replayed_by})" if body.replayed_by else "")
    return await _replay(queue, selector, replayed_by=who, limit=body.max_jobs)


def _preview(session: Session, selector: ReplaySelector, max_jobs: int) -> ReplayPreview:
    matched = min(count_dead_letters(session=session, selector=selector), max_jobs)
    sample = select_dead_letters(session=session, selector=selector, limit=min(DRY_RUN_SAMPLE, max_jobs))
    preview = ReplayPreview(
        matched=matched, sample=[DeadLetterPublic.model_validate(letter) for letter in sample]
    )
    session.rollback()  # the sample's row locks
    return preview


async def _replay(queue: JobQueue, selector: ReplaySelector, *, replayed_by: str, limit: int) -> ReplayDone:
    letters = await run_in_threadpool(
        replay_dead_letters, queue, selector, replayed_by=replayed_by, limit=limit
    )
    return ReplayDone(
        matched=len(letters), replayed=len(letters), job_ids=[str(letter.job_id) for letter in letters]
    )
