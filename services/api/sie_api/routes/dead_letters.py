"""The dead-letter queue through the API (admin): list, and replay with an audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlalchemy import select

from sie.core.deadletter import ReplaySelector, replay_dead_letters, select_dead_letters
from sie.core.models import DeadLetter
from sie.core.schemas import StrictModel
from sie_api.deps import AdminPrincipal, QueueDep, SessionDep

router = APIRouter(prefix="/v1/dead-letters", tags=["dead-letters"])


class ReplayRequest(StrictModel):
    queue: str | None = None
    task: str | None = None
    error_contains: str | None = Field(default=None, max_length=500)
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    max_jobs: int = Field(default=100, ge=1, le=10_000)
    dry_run: bool = False
    replayed_by: str | None = Field(default=None, max_length=250)


def _letter(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": str(letter.id),
        "job_id": str(letter.job_id),
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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    query = select(DeadLetter).where(DeadLetter.tenant == principal.tenant)
    query = query.where(DeadLetter.replayed_at.is_not(None) if replayed else DeadLetter.replayed_at.is_(None))
    letters = session.scalars(query.order_by(DeadLetter.created_at.desc()).limit(limit)).all()
    return {"dead_letters": [_letter(letter) for letter in letters], "count": len(letters)}


@router.post("/replay")
async def replay(
    body: ReplayRequest, principal: AdminPrincipal, session: SessionDep, queue: QueueDep
) -> dict[str, Any]:
    selector = ReplaySelector(
        tenant=principal.tenant,
        queue=body.queue,
        task=body.task,
        error_contains=body.error_contains,
        source=body.source,
        since=body.since,
        until=body.until,
    )
    if body.dry_run:
        matched = select_dead_letters(session, selector, limit=body.max_jobs)
        session.rollback()
        return {"dry_run": True, "matched": len(matched), "sample": [_letter(m) for m in matched[:10]]}
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
