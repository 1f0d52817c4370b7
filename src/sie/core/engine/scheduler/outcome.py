"""Writing a poll's outcome onto its source: counters, status, validators and the next run.

A poll's result is written only by the lease holder; a replica that died mid-poll leaves a lease
that expires, and the source is due again. After a poll, `next_run_at` = now + interval (grown by
2^failures after consecutive failures, capped at SOURCE_MAX_BACKOFF_SECONDS): a source missed while
every scheduler was down is polled once on return, never once per missed interval.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.scheduler.claim import ClaimedSource
from sie.core.engine.scheduler.items import PollCounts
from sie.core.logging import get_logger
from sie.core.models import Source, utcnow
from sie.core.sources.politeness import PollContext

log = get_logger(__name__)

MAX_BACKOFF_EXPONENT = 20


@dataclass(frozen=True)
class PollResult:
    source_id: uuid.UUID
    name: str
    # ok | not_modified | partial | failed | interrupted
    outcome: str
    counts: PollCounts = field(default_factory=PollCounts)
    error: str | None = None
    duration_ms: float = 0.0
    next_run_at: datetime | None = None


def backoff_seconds(interval_seconds: int, consecutive_failures: int) -> int:
    """The wait before the next poll: the interval, doubled per consecutive failure, capped."""
    if consecutive_failures <= 0:
        return interval_seconds
    ceiling = max(settings.source_max_backoff_seconds, interval_seconds)
    return min(interval_seconds * 2 ** min(consecutive_failures, MAX_BACKOFF_EXPONENT), ceiling)


def record_poll(claimed: ClaimedSource, result: PollResult, ctx: PollContext) -> PollResult:
    """Write the poll's outcome onto the source, if this poll still holds its lease."""
    with session_scope() as session:
        source = session.get(Source, claimed.id, with_for_update=True)
        if source is None or source.lease_token != claimed.lease_token:
            log.warning("source_poll_discarded", source=claimed.name, reason="lease lost or source deleted")
            return result
        now = utcnow()
        source.lease_token, source.lease_until = None, None
        _count_items(source, result.counts)
        spec_unchanged = source.generation == claimed.generation
        delay = _settle(source, result, ctx, spec_unchanged=spec_unchanged, now=now)
        source.next_run_at = now + timedelta(seconds=delay if spec_unchanged else 0)
        source.last_poll = {
            "at": now.isoformat(),
            "outcome": result.outcome,
            "duration_ms": result.duration_ms,
            **asdict(result.counts),
            "error": result.error,
        }
        return dataclasses.replace(result, next_run_at=source.next_run_at)


def _count_items(source: Source, counts: PollCounts) -> None:
    source.items_seen += counts.new - counts.backlog - counts.deferred
    source.items_ingested += counts.ingested
    source.items_skipped += counts.skipped + counts.disallowed
    source.items_failed += counts.failed


def _settle(
    source: Source, result: PollResult, ctx: PollContext, *, spec_unchanged: bool, now: datetime
) -> float:
    """Update the failure streak and the stored validators; returns the seconds until the next poll."""
    if result.outcome == "failed":
        source.consecutive_failures += 1
        source.last_error = result.error
        return float(backoff_seconds(source.interval_seconds, source.consecutive_failures))
    if result.outcome == "interrupted":
        # Stopped by a shutdown, not a fault of the source: due again for whoever runs next.
        return 0.0
    source.consecutive_failures, source.last_error, source.last_success_at = 0, None, now
    if result.outcome != "partial":
        if spec_unchanged:
            source.validators = ctx.new_validators
        return float(source.interval_seconds)
    # Listings are read in full again until every item is taken; a backlog comes back soon.
    source.validators = {}
    if result.counts.backlog:
        return min(float(source.interval_seconds), settings.source_backlog_delay_seconds)
    return float(source.interval_seconds)
