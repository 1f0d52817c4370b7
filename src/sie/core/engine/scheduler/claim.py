"""Claiming due sources under row locks: a lease per source, and the snapshot a poll works from.

Claiming is one short transaction: `SELECT … FOR UPDATE SKIP LOCKED` over sources that are due
(`next_run_at <= now`), not suspended and not leased, then a conditional UPDATE that writes a lease
(`lease_token`, `lease_until`). Several scheduler replicas therefore never poll one source at once,
and no transaction stays open while a poll talks to the network.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import or_, select, update

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.models import Source, utcnow
from sie.core.sources.base import origin_of
from sie.core.sources.config import SourceSpec
from sie.core.sources.politeness import Credentials


def lease_seconds() -> float:
    # Longer than any poll can run: its budget plus one fetch that started just before the end.
    return settings.source_poll_budget_seconds + 2 * settings.fetch_timeout_seconds + 60


@dataclass(frozen=True)
class ClaimedSource:
    """A snapshot of the source taken with its lease; the poll works from this, not from a live row."""

    id: uuid.UUID
    lease_token: uuid.UUID
    generation: int
    tenant: str
    name: str
    type: str
    url: str | None
    urls: tuple[str, ...]
    priority: str
    ocr_strategy: str
    include_patterns: tuple[str, ...]
    exclude_patterns: tuple[str, ...]
    validators: dict[str, Any]
    credentials: Credentials | None

    @classmethod
    def of(cls, source: Source, lease_token: uuid.UUID) -> ClaimedSource:
        return cls(
            id=source.id,
            lease_token=lease_token,
            generation=source.generation,
            tenant=source.tenant,
            name=source.name,
            type=source.type,
            url=source.url,
            urls=tuple(source.urls),
            priority=source.priority,
            ocr_strategy=source.ocr_strategy,
            include_patterns=tuple(source.include_patterns),
            exclude_patterns=tuple(source.exclude_patterns),
            validators=dict(source.validators or {}),
            credentials=_credentials(source),
        )

    @property
    def spec(self) -> SourceSpec:
        return SourceSpec(url=self.url, urls=self.urls)

    def wants(self, url: str) -> bool:
        """The include/exclude globs, matched against the whole URL."""
        if self.include_patterns and not any(fnmatchcase(url, p) for p in self.include_patterns):
            return False
        return not any(fnmatchcase(url, pattern) for pattern in self.exclude_patterns)


def _credentials(source: Source) -> Credentials | None:
    """The source's auth header, bound to the origins it declares (`url`, or each of `urls`)."""
    if not source.auth_header_value:
        return None
    declared = [source.url] if source.url else list(source.urls)
    return Credentials(
        header_name=source.auth_header_name,
        value=source.auth_header_value,
        origins=frozenset(origin_of(url) for url in declared),
    )


def claim_sources(*, limit: int, source_id: uuid.UUID | None = None) -> list[ClaimedSource]:
    """Lease up to `limit` due sources, oldest `next_run_at` first; or the one `source_id`, due or not."""
    now = utcnow()
    unleased = or_(Source.lease_until.is_(None), Source.lease_until < now)
    query = select(Source).where(Source.suspend.is_(False), unleased)
    if source_id is not None:
        query = query.where(Source.id == source_id)
    else:
        query = query.where(Source.next_run_at <= now).order_by(Source.next_run_at)
    claimed: list[ClaimedSource] = []
    with session_scope() as session:
        for source in session.scalars(query.limit(limit).with_for_update(skip_locked=True)).all():
            token = uuid.uuid4()
            # Conditional, so the claim is exclusive on SQLite too, where FOR UPDATE is a no-op.
            leased = session.execute(
                update(Source)
                .where(Source.id == source.id, unleased)
                .values(
                    lease_token=token,
                    lease_until=now + timedelta(seconds=lease_seconds()),
                    last_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if leased.rowcount == 1:
                claimed.append(ClaimedSource.of(source, token))
    return claimed
