"""Dead letters: reads and selections (keyword-only, the session passed in).

Writing a dead letter, mirroring it into Redis and replaying it belong to `sie.core.engine.deadletter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sie.core.models import DeadLetter


def find_dead_letters(
    *, session: Session, tenant: str | None, replayed: bool, replayed_by: str | None = None, limit: int
) -> tuple[list[DeadLetter], int]:
    """Newest first: letters not yet replayed, or (`replayed`) the audit trail of replays, and how many
    match in all. No tenant: every tenant's; `replayed_by` narrows to replays whose label contains it."""
    query = select(DeadLetter).where(
        DeadLetter.replayed_at.is_not(None) if replayed else DeadLetter.replayed_at.is_(None)
    )
    if tenant is not None:
        query = query.where(DeadLetter.tenant == tenant)
    if replayed_by is not None:
        query = query.where(DeadLetter.replayed_by.contains(replayed_by, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    letters = session.scalars(query.order_by(DeadLetter.created_at.desc()).limit(limit)).all()
    return list(letters), total


def pending_dead_letters(*, session: Session) -> list[DeadLetter]:
    return list(
        session.scalars(
            select(DeadLetter).where(DeadLetter.replayed_at.is_(None)).order_by(DeadLetter.created_at)
        )
    )


def dead_letter_count(*, session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.replayed_at.is_(None)))
        or 0
    )


@dataclass(frozen=True)
class ReplaySelector:
    """Which dead letters to replay; every field narrows the match (no tenant: every tenant's)."""

    tenant: str | None = None
    queue: str | None = None
    task: str | None = None
    error_contains: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _matching(selector: ReplaySelector) -> Select[tuple[DeadLetter]]:
    query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None))
    for column, value in (
        (DeadLetter.tenant, selector.tenant),
        (DeadLetter.queue, selector.queue),
        (DeadLetter.task, selector.task),
        (DeadLetter.source, selector.source),
    ):
        if value is not None:
            query = query.where(column == value)
    if selector.error_contains:
        query = query.where(DeadLetter.error.contains(selector.error_contains, autoescape=True))
    if selector.since is not None:
        query = query.where(DeadLetter.created_at >= selector.since)
    if selector.until is not None:
        query = query.where(DeadLetter.created_at < selector.until)
    return query


def count_dead_letters(*, session: Session, selector: ReplaySelector) -> int:
    """How many dead letters a replay with this selector would send back now (a dry run's count)."""
    return session.scalar(select(func.count()).select_from(_matching(selector).subquery())) or 0


def select_dead_letters(
    *, session: Session, selector: ReplaySelector, limit: int | None = None
) -> list[DeadLetter]:
    query = _matching(selector).order_by(DeadLetter.created_at, DeadLetter.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query.with_for_update(skip_locked=True)))
