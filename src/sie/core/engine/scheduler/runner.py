"""`SourceScheduler`: one poll end to end (claim, discover, take new items, record), and the loop.

A poll never raises: whatever goes wrong is recorded on the source as the poll's outcome.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict
from functools import cache

from sie.core import metrics
from sie.core.config import settings
from sie.core.engine.retention import start_retention_thread
from sie.core.engine.runtime import get_job_queue
from sie.core.engine.scheduler.claim import ClaimedSource, claim_sources
from sie.core.engine.scheduler.items import PollCounts, take_items, unique_items, unknown_items
from sie.core.engine.scheduler.outcome import PollResult, record_poll
from sie.core.errors import PollInterrupted, ServiceUnavailable, SieError
from sie.core.logging import get_logger
from sie.core.queues import JobQueue
from sie.core.sources.politeness import PoliteFetcher, PollContext
from sie.core.sources.registry import build_source

log = get_logger(__name__)


class SourceScheduler:
    """Polls sources. One per process: its `PoliteFetcher` holds that process's robots cache and host gate."""

    def __init__(self, queue: JobQueue | None = None, fetcher: PoliteFetcher | None = None) -> None:
        self.queue = queue or get_job_queue()
        self.fetcher = fetcher or PoliteFetcher()

    def claim_due(self, limit: int) -> list[ClaimedSource]:
        """Lease up to `limit` due sources, oldest `next_run_at` first."""
        return claim_sources(limit=limit)

    def claim(self, source_id: uuid.UUID) -> ClaimedSource | None:
        """Lease one source whether due or not (sync now); None if suspended, gone or being polled."""
        claimed = claim_sources(limit=1, source_id=source_id)
        return claimed[0] if claimed else None

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
        started = time.perf_counter()
        ctx = PollContext(
            self.fetcher,
            deadline=time.monotonic() + settings.source_poll_budget_seconds,
            stop=stop or threading.Event(),
            validators=claimed.validators,
            credentials=claimed.credentials,
        )
        counts = PollCounts()
        error, error_kind = None, None
        try:
            outcome = self._discover_and_take(claimed, ctx, counts)
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
            result = record_poll(claimed, result, ctx)
        except Exception:
            # The lease runs out and another poll follows; nothing else is left half-done.
            log.exception("source_poll_unrecorded", source=claimed.name, tenant=claimed.tenant)
        _log_poll(claimed, result, error_kind)
        return result

    def _discover_and_take(self, claimed: ClaimedSource, ctx: PollContext, counts: PollCounts) -> str:
        """The poll's work; returns its outcome (`ok`, `partial` or `not_modified`) or raises."""
        source = build_source(claimed.type, claimed.spec)
        discovery = source.discover(ctx, max_items=settings.source_max_discovered_items)
        wanted = unique_items([item for item in discovery.items if claimed.wants(item.url)])
        counts.found = len(wanted)
        new_items = unknown_items(claimed, wanted)
        counts.new = len(new_items)
        take_items(claimed, new_items, ctx, counts, queue=self.queue)
        if counts.backlog or counts.deferred:
            return "partial"
        return "not_modified" if ctx.unchanged else "ok"

    def run(self, stop: threading.Event) -> None:
        """Poll due sources until `stop` is set, SCHEDULER_CONCURRENCY at a time."""
        slots = settings.scheduler_concurrency
        log.info("scheduler_started", concurrency=slots, tick_s=settings.scheduler_tick_seconds)
        in_flight: set[Future[PollResult]] = set()
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="sie-source") as pool:
            while not stop.is_set():
                in_flight = {future for future in in_flight if not future.done()}
                claimed = self._claim_for_free_slots(slots - len(in_flight))
                in_flight.update(pool.submit(self.poll, source, stop=stop) for source in claimed)
                if claimed and len(in_flight) < slots:
                    continue  # more may be due
                if len(in_flight) >= slots:
                    wait(in_flight, timeout=settings.scheduler_tick_seconds, return_when=FIRST_COMPLETED)
                else:
                    stop.wait(settings.scheduler_tick_seconds)
        log.info("scheduler_stopped")

    def _claim_for_free_slots(self, free: int) -> list[ClaimedSource]:
        """What is due, up to `free` sources; nothing while the database is away (the loop goes on)."""
        if free <= 0:
            return []
        try:
            return self.claim_due(free)
        except ServiceUnavailable as exc:
            log.warning("scheduler_claim_unavailable", reason=str(exc))
        except Exception:
            log.exception("scheduler_claim_failed")
            metrics.ERRORS.labels(component="scheduler", kind="internal").inc()
        return []


def _log_poll(claimed: ClaimedSource, result: PollResult, error_kind: str | None) -> None:
    if result.outcome == "failed":
        metrics.ERRORS.labels(component="scheduler", kind=error_kind or "error").inc()
        log.warning(
            "source_poll_failed",
            source=claimed.name,
            tenant=claimed.tenant,
            error=result.error,
            kind=error_kind,
            duration_ms=result.duration_ms,
        )
    else:
        log.info(
            "source_polled",
            source=claimed.name,
            tenant=claimed.tenant,
            outcome=result.outcome,
            duration_ms=result.duration_ms,
            **asdict(result.counts),
        )


@cache
def default_scheduler() -> SourceScheduler:
    return SourceScheduler()


def poll_source(source_id: uuid.UUID) -> PollResult | None:
    """Poll one source now with this process's scheduler (sync now, with `wait`)."""
    return default_scheduler().poll_source(source_id)


def run_due_sources() -> list[PollResult]:
    return default_scheduler().run_due_sources()


def run_scheduler(stop_event: threading.Event) -> None:
    # The scheduler is the one long-running periodic process: retention runs here once an hour.
    start_retention_thread(stop_event)
    default_scheduler().run(stop_event)
