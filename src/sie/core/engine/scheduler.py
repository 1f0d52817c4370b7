"""The source scheduler: claims due sources under row locks, polls each politely, ingests new items.

Claiming is one short transaction: `SELECT … FOR UPDATE SKIP LOCKED` over sources that are due
(`next_run_at <= now`), not suspended and not leased, then a conditional UPDATE that writes a lease
(`lease_token`, `lease_until`). Several scheduler replicas therefore never poll one source at once,
and no transaction stays open while a poll talks to the network. A poll's result is written only by
the lease holder; a replica that died mid-poll leaves a lease that expires, and the source is due again.

After a poll, `next_run_at` = now + interval (grown by 2^failures after consecutive failures, capped at
SOURCE_MAX_BACKOFF_SECONDS): a source missed while every scheduler was down is polled once on
return, never once per missed interval.

New items are fetched here, not by the workers, so robots.txt, Crawl-delay and the per-host limit
cover every request made for a source. Their bytes go through the one ingest path
(`add_documents` + `enqueue_new`) in the same transaction that records the item, so a crash can
never ingest an item twice or lose the record of it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from sqlalchemy import or_, select, update

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.ingest import NewDocument, add_documents, enqueue_new
from sie.core.engine.queue import get_job_queue
from sie.core.errors import (
    PermanentError,
    PollBudgetExhausted,
    PollInterrupted,
    RobotsDisallowed,
    ServiceUnavailable,
    SieError,
    TransientError,
)
from sie.core.logging import get_logger
from sie.core.models import JobKind, Source, SourceItem, utcnow
from sie.core.queues import JobQueue
from sie.core.sources.base import DiscoveredItem, SourceSpec, origin_of
from sie.core.sources.politeness import Credentials, PoliteFetcher, PollContext
from sie.core.sources.registry import build_source

log = get_logger(__name__)

# Looked up in chunks, so a sitemap of 50,000 URLs never becomes one giant IN (...).
LOOKUP_CHUNK = 500
MAX_BACKOFF_EXPONENT = 20
CONTENT_TYPE_CHARS = 100


class ItemStatus(enum.StrEnum):
    ingested = "ingested"
    duplicate = "duplicate"
    disallowed = "disallowed"
    failed = "failed"


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def backoff_seconds(interval_seconds: int, consecutive_failures: int) -> int:
    """The wait before the next poll: the interval, doubled per consecutive failure, capped."""
    if consecutive_failures <= 0:
        return interval_seconds
    ceiling = max(settings.source_max_backoff_seconds, interval_seconds)
    return min(interval_seconds * 2 ** min(consecutive_failures, MAX_BACKOFF_EXPONENT), ceiling)


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
        declared = [source.url] if source.url else list(source.urls)
        credentials = (
            Credentials(
                header_name=source.auth_header_name,
                value=source.auth_header_value,
                origins=frozenset(origin_of(url) for url in declared),
            )
            if source.auth_header_value
            else None
        )
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
            credentials=credentials,
        )

    def wants(self, url: str) -> bool:
        """The include/exclude globs, matched against the whole URL."""
        if self.include_patterns and not any(fnmatchcase(url, p) for p in self.include_patterns):
            return False
        return not any(fnmatchcase(url, pattern) for pattern in self.exclude_patterns)


@dataclass
class PollCounts:
    found: int = 0
    new: int = 0
    ingested: int = 0
    skipped: int = 0
    disallowed: int = 0
    failed: int = 0
    # New items left for the next poll because of the per-poll cap or the time budget...
    backlog: int = 0
    # ...and because of a transient error (5xx, timeout): tried again at the next regular poll.
    deferred: int = 0


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


class SourceScheduler:
    """Polls sources. One per process: its `PoliteFetcher` holds that process's robots cache and host gate."""

    def __init__(self, queue: JobQueue | None = None, fetcher: PoliteFetcher | None = None) -> None:
        self.queue = queue or get_job_queue()
        self.fetcher = fetcher or PoliteFetcher()

    # -- claiming ---------------------------------------------------------------------------------

    def claim_due(self, limit: int) -> list[ClaimedSource]:
        """Lease up to `limit` due sources, oldest `next_run_at` first."""
        return self._claim(limit=limit)

    def claim(self, source_id: uuid.UUID) -> ClaimedSource | None:
        """Lease one source whether due or not (sync now); None if suspended, gone or being polled."""
        claimed = self._claim(source_id=source_id, limit=1)
        return claimed[0] if claimed else None

    def _claim(self, *, limit: int, source_id: uuid.UUID | None = None) -> list[ClaimedSource]:
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

    # -- polling ----------------------------------------------------------------------------------

    def poll_source(self, source_id: uuid.UUID, *, stop: threading.Event | None = None) -> PollResult | None:
        """Poll one source now; None when it is suspended, gone or already being polled."""
        claimed = self.claim(source_id)
        return self.poll(claimed, stop=stop) if claimed is not None else None

    def run_due_sources(self, *, stop: threading.Event | None = None) -> list[PollResult]:
        """Claim what is due (up to SCHEDULER_CONCURRENCY sources) and poll it; returns the results."""
        claimed = self.claim_due(settings.scheduler_concurrency)
        if len(claimed) <= 1:
            return [self.poll(source, stop=stop) for source in claimed]
        with ThreadPoolExecutor(max_workers=len(claimed), thread_name_prefix="sie-source") as pool:
            return list(pool.map(lambda source: self.poll(source, stop=stop), claimed))

    def poll(self, claimed: ClaimedSource, *, stop: threading.Event | None = None) -> PollResult:
        """Discover, filter and ingest, then record the outcome. Never raises: a failure is recorded."""
        stop = stop or threading.Event()
        started = time.perf_counter()
        ctx = PollContext(
            self.fetcher,
            deadline=time.monotonic() + settings.source_poll_budget_seconds,
            stop=stop,
            validators=claimed.validators,
            credentials=claimed.credentials,
        )
        counts = PollCounts()
        outcome, error, error_kind = "ok", None, None
        try:
            source = build_source(claimed.type, SourceSpec(url=claimed.url, urls=claimed.urls))
            discovery = source.discover(ctx, max_items=settings.source_max_discovered_items)
            wanted = _unique([item for item in discovery.items if claimed.wants(item.url)])
            counts.found = len(wanted)
            new_items = self._unknown(claimed, wanted)
            counts.new = len(new_items)
            self._take(claimed, new_items, ctx, counts)
            if counts.backlog or counts.deferred:
                outcome = "partial"
            elif ctx.unchanged:
                outcome = "not_modified"
        except PollInterrupted:
            outcome = "interrupted"
        except SieError as exc:
            outcome, error, error_kind = "failed", str(exc), exc.kind
        except Exception as exc:
            log.exception("source_poll_crashed", source=claimed.name, tenant=claimed.tenant)
            outcome, error, error_kind = "failed", f"internal error: {type(exc).__name__}: {exc}", "internal"
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        result = PollResult(claimed.id, claimed.name, outcome, counts, error, duration_ms)
        metrics.SOURCE_POLLS.labels(source_type=claimed.type, outcome=outcome).inc()
        try:
            result = self._record(claimed, result, ctx)
        except Exception:
            # The lease runs out and another poll follows; nothing else is left half-done.
            log.exception("source_poll_unrecorded", source=claimed.name, tenant=claimed.tenant)
        if outcome == "failed":
            metrics.ERRORS.labels(component="scheduler", kind=error_kind or "error").inc()
            log.warning(
                "source_poll_failed",
                source=claimed.name,
                tenant=claimed.tenant,
                error=error,
                kind=error_kind,
                duration_ms=duration_ms,
            )
        else:
            log.info(
                "source_polled",
                source=claimed.name,
                tenant=claimed.tenant,
                outcome=outcome,
                duration_ms=duration_ms,
                **asdict(counts),
            )
        return result

    def _unknown(self, claimed: ClaimedSource, items: Sequence[DiscoveredItem]) -> list[DiscoveredItem]:
        """The items this source has not recorded before (by URL, or by guid when the feed gives one)."""
        known_urls: set[str] = set()
        known_guids: set[str] = set()
        with session_scope() as session:
            for start in range(0, len(items), LOOKUP_CHUNK):
                chunk = items[start : start + LOOKUP_CHUNK]
                known_urls.update(
                    session.scalars(
                        select(SourceItem.url_hash).where(
                            SourceItem.source_id == claimed.id,
                            SourceItem.url_hash.in_([url_hash(item.url) for item in chunk]),
                        )
                    )
                )
                guids = [item.guid for item in chunk if item.guid]
                if guids:
                    known_guids.update(
                        guid
                        for guid in session.scalars(
                            select(SourceItem.guid).where(
                                SourceItem.source_id == claimed.id, SourceItem.guid.in_(guids)
                            )
                        )
                        if guid
                    )
        return [
            item
            for item in items
            if url_hash(item.url) not in known_urls and (item.guid is None or item.guid not in known_guids)
        ]

    def _take(
        self, claimed: ClaimedSource, items: Sequence[DiscoveredItem], ctx: PollContext, counts: PollCounts
    ) -> None:
        """Fetch and ingest new items, up to SOURCE_MAX_ITEMS_PER_POLL and the poll's time budget."""
        for index, item in enumerate(items):
            if index >= settings.source_max_items_per_poll:
                counts.backlog += len(items) - index
                return
            if ctx.stop.is_set():
                raise PollInterrupted("the scheduler is stopping")
            try:
                status = self._take_item(claimed, item, ctx)
            except PollBudgetExhausted:
                counts.backlog += len(items) - index
                return
            except PollInterrupted:
                raise
            except TransientError as exc:
                # Not recorded, so the next poll tries the item again.
                log.info("source_item_deferred", source=claimed.name, url=item.url, reason=str(exc))
                counts.deferred += 1
                continue
            if status == ItemStatus.ingested:
                counts.ingested += 1
            elif status == ItemStatus.duplicate:
                counts.skipped += 1
            elif status == ItemStatus.disallowed:
                counts.disallowed += 1
            else:
                counts.failed += 1

    def _take_item(self, claimed: ClaimedSource, item: DiscoveredItem, ctx: PollContext) -> str:
        item_hash = url_hash(item.url)
        if self._tenant_has(claimed.tenant, SourceItem.url_hash == item_hash):
            return self._record_item(claimed, item, ItemStatus.duplicate)
        try:
            fetched = ctx.fetch_item(item.url)
        except RobotsDisallowed as exc:
            return self._record_item(claimed, item, ItemStatus.disallowed, error=str(exc))
        except PermanentError as exc:
            return self._record_item(claimed, item, ItemStatus.failed, error=str(exc))
        if not fetched.content:
            return self._record_item(
                claimed, item, ItemStatus.failed, error=f"{item.url} answered with no content"
            )
        digest = hashlib.sha256(fetched.content).hexdigest()
        details = {"etag": fetched.etag, "last_modified": fetched.last_modified, "content_hash": digest}
        if self._tenant_has(claimed.tenant, SourceItem.content_hash == digest):
            return self._record_item(claimed, item, ItemStatus.duplicate, **details)
        document = NewDocument(
            data=fetched.content,
            url=item.url,
            content_type=(fetched.content_type or "")[:CONTENT_TYPE_CHARS] or None,
            title=(item.title or "")[:1000] or None,
            source=claimed.name,
            priority=claimed.priority,
            ocr_strategy=claimed.ocr_strategy,  # type: ignore[arg-type]
            kind=JobKind.ocr if claimed.ocr_strategy == "ocr_only" else JobKind.ingest,
            external_id=item.guid,
            metadata={
                key: value
                for key, value in (
                    ("source_type", claimed.type),
                    ("guid", item.guid),
                    ("published", item.published.isoformat() if item.published else None),
                )
                if value
            },
        )
        with session_scope() as session:
            submission = add_documents(session, tenant=claimed.tenant, documents=[document])[0]
            status = ItemStatus.duplicate if submission.duplicate else ItemStatus.ingested
            session.add(self._item_row(claimed, item, status, document_id=submission.document_id, **details))
        enqueue_new(self.queue, [submission])
        return status

    @staticmethod
    def _tenant_has(tenant: str, condition: Any) -> bool:
        """Whether any source of the tenant already ingested an item matching `condition`."""
        with session_scope() as session:
            return (
                session.scalar(
                    select(SourceItem.id)
                    .where(SourceItem.tenant == tenant, SourceItem.status == ItemStatus.ingested, condition)
                    .limit(1)
                )
                is not None
            )

    def _record_item(self, claimed: ClaimedSource, item: DiscoveredItem, status: str, **details: Any) -> str:
        with session_scope() as session:
            session.add(self._item_row(claimed, item, status, **details))
        return status

    @staticmethod
    def _item_row(claimed: ClaimedSource, item: DiscoveredItem, status: str, **details: Any) -> SourceItem:
        etag, last_modified = details.pop("etag", None), details.pop("last_modified", None)
        return SourceItem(
            source_id=claimed.id,
            tenant=claimed.tenant,
            url=item.url,
            url_hash=url_hash(item.url),
            guid=item.guid,
            status=status,
            etag=etag[:500] if etag else None,
            last_modified=last_modified[:100] if last_modified else None,
            first_seen_at=utcnow(),
            **details,
        )

    def _record(self, claimed: ClaimedSource, result: PollResult, ctx: PollContext) -> PollResult:
        """Write the poll's outcome onto the source, if this poll still holds its lease."""
        counts = result.counts
        with session_scope() as session:
            source = session.get(Source, claimed.id, with_for_update=True)
            if source is None or source.lease_token != claimed.lease_token:
                log.warning(
                    "source_poll_discarded", source=claimed.name, reason="lease lost or source deleted"
                )
                return result
            now = utcnow()
            source.lease_token, source.lease_until = None, None
            source.items_seen += counts.new - counts.backlog - counts.deferred
            source.items_ingested += counts.ingested
            source.items_skipped += counts.skipped + counts.disallowed
            source.items_failed += counts.failed
            spec_unchanged = source.generation == claimed.generation
            if result.outcome == "failed":
                source.consecutive_failures += 1
                source.last_error = result.error
                delay = float(backoff_seconds(source.interval_seconds, source.consecutive_failures))
            elif result.outcome == "interrupted":
                # Stopped by a shutdown, not a fault of the source: due again for whoever runs next.
                delay = 0.0
            else:
                source.consecutive_failures, source.last_error, source.last_success_at = 0, None, now
                if result.outcome == "partial":
                    # Listings are read in full again until every item is taken; a backlog comes back soon.
                    source.validators = {}
                    delay = float(source.interval_seconds)
                    if counts.backlog:
                        delay = min(delay, settings.source_backlog_delay_seconds)
                else:
                    if spec_unchanged:
                        source.validators = ctx.new_validators
                    delay = float(source.interval_seconds)
            source.next_run_at = now + timedelta(seconds=delay if spec_unchanged else 0)
            source.last_poll = {
                "at": now.isoformat(),
                "outcome": result.outcome,
                "duration_ms": result.duration_ms,
                **asdict(counts),
                "error": result.error,
            }
            return dataclasses.replace(result, next_run_at=source.next_run_at)

    # -- the loop -----------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll due sources until `stop` is set, SCHEDULER_CONCURRENCY at a time."""
        slots = settings.scheduler_concurrency
        log.info("scheduler_started", concurrency=slots, tick_s=settings.scheduler_tick_seconds)
        in_flight: set[Future[PollResult]] = set()
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="sie-source") as pool:
            while not stop.is_set():
                in_flight = {future for future in in_flight if not future.done()}
                claimed: list[ClaimedSource] = []
                try:
                    claimed = self.claim_due(slots - len(in_flight)) if len(in_flight) < slots else []
                except ServiceUnavailable as exc:
                    log.warning("scheduler_claim_unavailable", reason=str(exc))
                except Exception:
                    log.exception("scheduler_claim_failed")
                    metrics.ERRORS.labels(component="scheduler", kind="internal").inc()
                in_flight.update(pool.submit(self.poll, source, stop=stop) for source in claimed)
                if claimed and len(in_flight) < slots:
                    continue  # more may be due
                if len(in_flight) >= slots:
                    wait(in_flight, timeout=settings.scheduler_tick_seconds, return_when=FIRST_COMPLETED)
                else:
                    stop.wait(settings.scheduler_tick_seconds)
        log.info("scheduler_stopped")


def _unique(items: Sequence[DiscoveredItem]) -> list[DiscoveredItem]:
    """The first item per URL: a feed that lists a link twice yields one item."""
    seen: set[str] = set()
    unique: list[DiscoveredItem] = []
    for item in items:
        if item.url not in seen:
            seen.add(item.url)
            unique.append(item)
    return unique


@cache
def default_scheduler() -> SourceScheduler:
    return SourceScheduler()


def poll_source(source_id: uuid.UUID) -> PollResult | None:
    """Poll one source now with this process's scheduler (sync now, with `wait`)."""
    return default_scheduler().poll_source(source_id)


def run_due_sources() -> list[PollResult]:
    return default_scheduler().run_due_sources()


def run_scheduler(stop_event: threading.Event) -> None:
    default_scheduler().run(stop_event)
