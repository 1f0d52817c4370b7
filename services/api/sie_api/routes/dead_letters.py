"""The dead-letter queue through the API (admin): list, replay and discard, with an audit trail.

An admin key sees, replays and discards its own tenant's dead letters. A key with the `system` scope
(the operator's, `sie api-key create --system`) may name another tenant, or ask for every tenant's
with `all_tenants`. Every replayed letter records who replayed it (`replayed_by`): the key, and the
caller's own label such as `operator:<namespace>/<name>/<uid>`; `GET ?replayed=true` lists them.
A discarded letter (its job given up on, and left dead) records `discarded_by` the same way;
`GET ?discarded=true` lists them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from sie.core.engine.deadletter import discard_dead_letters, replay_dead_letters
from sie.core.errors import Forbidden
from sie.core.queues import JobQueue
from sie.core.repository.dead_letters import (
    LetterState,
    ReplaySelector,
    find_dead_letters,
    preview_dead_letters,
)
from sie.core.schemas import (
    DeadLetterPublic,
    DeadLetterSelection,
    DeadLettersPublic,
    DiscardAnswer,
    DiscardDone,
    DiscardRequest,
    ReplayAnswer,
    ReplayDone,
    ReplayPreview,
    ReplayRequest,
)
from sie.core.security import Principal
from sie_api.deps import AdminPrincipal, QueueDep, ReadSessionDep, SessionDep, tenant_for
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
    session: ReadSessionDep,
    state: Annotated[
        LetterState | None,
        Query(
            description="Which letters: `pending` (default), or the audit trail: `replayed` or `discarded`"
        ),
    ] = None,
    replayed: Annotated[
        bool,
        Query(deprecated=True, description="`true` means `state=replayed`; `state` wins if both are given"),
    ] = False,
    replayed_by: Annotated[
        str | None, Query(max_length=300, description="Replayed letters whose replayed_by contains this")
    ] = None,
    discarded_by: Annotated[
        str | None, Query(max_length=300, description="Discarded letters whose discarded_by contains this")
    ] = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
    all_tenants: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLettersPublic:
    """Pending dead letters (or the audit trail of replays with `state=replayed`, of discards with
    `state=discarded`), newest first.

    `count` is how many are listed; `total` how many match in all.
    """
    letters, total = find_dead_letters(
        session=session,
        tenant=_scope_tenant(principal, tenant, all_tenants),
        state=state or ("replayed" if replayed else "pending"),
        replayed_by=replayed_by,
        discarded_by=discarded_by,
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
    selector = _selector(principal, body)
    if body.dry_run:
        return _preview(session, selector, body.max_jobs)
    return await _replay(queue, selector, replayed_by=_who(principal, body.replayed_by), limit=body.max_jobs)


@router.post("/discard", response_model=DiscardAnswer, responses=TOO_LARGE)
async def discard(
    body: DiscardRequest, principal: AdminPrincipal, session: SessionDep
) -> ReplayPreview | DiscardDone:
    """Give up on up to `max_jobs` matching dead letters: their jobs stay dead, the letters leave the
    queue, and each records who discarded it. `dry_run` shows what would go first."""
    selector = _selector(principal, body)
    if body.dry_run:
        return _preview(session, selector, body.max_jobs)
    letters = await run_in_threadpool(
        discard_dead_letters, selector, discarded_by=_who(principal, body.discarded_by), limit=body.max_jobs
    )
    return DiscardDone(
        matched=len(letters), discarded=len(letters), job_ids=[str(letter.job_id) for letter in letters]
    )


def _selector(principal: Principal, body: DeadLetterSelection) -> ReplaySelector:
    return ReplaySelector(
        tenant=_scope_tenant(principal, body.tenant, body.all_tenants),
        queue=body.queue,
        task=body.task,
        error_contains=body.error_contains,
        source=body.source,
        since=body.since,
        until=body.until,
    )


def _who(principal: Principal, label: str | None) -> str:
    """The audit label: the key that acted, and the caller's own label if it gave one."""
    return f"api:{principal.key_id}" + (f" ({label})" if label else "")


def _preview(session: Session, selector: ReplaySelector, max_jobs: int) -> ReplayPreview:
    matched, sample = preview_dead_letters(
        session=session, selector=selector, limit=max_jobs, sample_size=DRY_RUN_SAMPLE
    )
    return ReplayPreview(
        matched=matched, sample=[DeadLetterPublic.model_validate(letter) for letter in sample]
    )


async def _replay(queue: JobQueue, selector: ReplaySelector, *, replayed_by: str, limit: int) -> ReplayDone:
    letters = await run_in_threadpool(
        replay_dead_letters, queue, selector, replayed_by=replayed_by, limit=limit
    )
    return ReplayDone(
        matched=len(letters), replayed=len(letters), job_ids=[str(letter.job_id) for letter in letters]
    )
