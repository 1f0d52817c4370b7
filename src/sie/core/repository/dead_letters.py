"""Dead letters: reads and selections (keyword-only, the session passed in).

A letter is pending until it is replayed (its job sent back) or discarded (its job given up on);
either is recorded with when and by whom. Writing a dead letter, mirroring it into Redis, replaying
and discarding it belong to `sie.core.engine.deadletter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from sie.core.models import DeadLetter

LetterState = Literal["pending", "replayed", "discarded"]


def _in_state(state: LetterState) -> ColumnElement[bool]:
    if state == "replayed":
        return DeadLetter.replayed_at.is_not(None)
    if state == "discarded":
        return DeadLetter.discarded_at.is_not(None)
    return and_(DeadLetter.replayed_at.is_(None), DeadLetter.discarded_at.is_(None))


def find_dead_letters(
    *,
    session: Session,
    tenant: str | None,
    state: LetterState,
    replayed_by: str | None = None,
    discarded_by: str | None = None,
    limit: int,
) -> tuple[list[DeadLetter], int]:
    """Newest first: pending letters, or the audit trail of replays or of discards, and how many match
    in all. No tenant: every tenant's; `replayed_by`/`discarded_by` narrow to labels containing them."""
    query = select(DeadLetter).where(_in_state(state))
    if tenant is not None:
        query = query.where(DeadLetter.tenant == tenant)
    for column, label in ((DeadLetter.replayed_by, replayed_by), (DeadLetter.discarded_by, discarded_by)):
        if label is not None:
            query = query.where(column.contains(label, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    letters = session.scalars(query.order_by(DeadLetter.created_at.desc()).limit(limit)).all()
    return list(letters), total


def pending_dead_letters(*, session: Session, limit: int | None = None) -> list[DeadLetter]:
    """Oldest first."""
    query = select(DeadLetter).where(_in_state("pending")).order_by(DeadLetter.created_at)
    return list(session.scalars(query.limit(limit)))


def dead_letter_count(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(DeadLetter).where(_in_state("pending"))) or 0


@dataclass(frozen=True)
class ReplaySelector:
    """Which dead letters to replay or discard; every field narrows the match (no tenant: every tenant's)."""

    tenant: str | None = None
    queue: str | None = None
    task: str | None = None
    error_contains: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _matching(selector: ReplaySelector) -> Select[tuple[DeadLetter]]:
    query = select(DeadLetter).where(_in_state("pending"))
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
    return query.order_by(DeadLetter.created_at, DeadLetter.id)


def preview_dead_letters(
    *, session: Session, selector: ReplaySelector, limit: int, sample_size: int
) -> tuple[int, list[DeadLetter]]:
    """A dry run: how many letters a replay or discard of at most `limit` would take now, and the first
    of them (read without locking: a dry run changes nothing)."""
    matched = session.scalar(select(func.count()).select_from(_matching(selector).subquery())) or 0
    sample = session.scalars(_matching(selector).limit(min(sample_size, limit))).all()
    return min(matched, limit), list(sample)


def select_dead_letters(
    *, session: Session, selector: ReplaySelector, limit: int | None = None
) -> list[DeadLetter]:
    """The matching letters, oldest first, locked for this transaction (others' locked ones skipped)."""
    query = _matching(selector)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query.with_for_update(skip_locked=True)))
