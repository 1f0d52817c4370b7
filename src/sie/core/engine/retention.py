"""Retention runs: each tenant's expired documents archived (when ARCHIVE_URL is set), then deleted
from the database, the rollups and the search index (docs/retention.md).

A run over every tenant first drops the whole month partitions that have expired for every tenant
in them (`sie.core.engine.partitions`: no row-by-row delete); what is left expired (a month partly
expired, or rows in the DEFAULT partition) goes row by row as below.

Per tenant, a chunk of the oldest expired documents at a time: the chunk is archived first, and only
once every part file is complete are its documents deleted, BATCH per transaction. If archiving
fails, nothing of the chunk is deleted and the tenant's run stops there. Each batch leaves the
search index before its transaction (a failure then leaves documents that still exist but are
expired, and go at the next run; the database backend re-indexes them meanwhile) and again after
its commit (a concurrent re-index of one of them cannot leave it in the index).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.archive import write_archive
from sie.core.engine.partitions import drop_expired_months, maintain_partitions
from sie.core.errors import ServiceUnavailable
from sie.core.logging import get_logger
from sie.core.models import utcnow
from sie.core.redis import redis_client
from sie.core.repository.removal import remove_documents
from sie.core.repository.retention import count_expired, expired_document_ids, tenants_to_expire
from sie.core.search import get_search_backend

log = get_logger(__name__)
# Documents archived into one set of part files, then deleted BATCH per transaction.
CHUNK = 10_000
BATCH = 1_000
# The scheduler runs retention once an hour (one of its replicas: a Redis key shared by all).
INTERVAL_SECONDS = 3600
CHECK_SECONDS = 300
DUE_KEY = "sie:retention:hourly"


@dataclass
class TenantRun:
    tenant: str
    days: int
    cutoff: datetime
    expired: int = 0  # with --dry-run: how many would go
    archived: int = 0
    removed: int = 0
    parts: list[str] = field(default_factory=list)
    error: str | None = None


def run_retention(
    *, tenant: str | None = None, dry_run: bool = False, now: datetime | None = None
) -> list[TenantRun]:
    """Expire the documents of every tenant retention applies to (or of `tenant`); never raises for
    one tenant's failure: it is recorded on its `TenantRun` and the other tenants go on."""
    now = now or utcnow()
    with session_scope() as session:
        plan = tenants_to_expire(session=session, tenant=tenant)
    runs = [TenantRun(name, days, now - timedelta(days=days)) for name, days in plan]
    if tenant is None and not dry_run and runs:
        _drop_months(runs)
    for run in runs:
        name, days = run.tenant, run.days
        if dry_run:
            with session_scope() as session:
                run.expired = count_expired(session=session, tenant=name, before=run.cutoff)
            continue
        try:
            _expire_tenant(run)
        except Exception as exc:
            # Archive unwritable, database or search down: this tenant stops, the others go on.
            run.error = str(exc) or type(exc).__name__
            log.error("retention_failed", tenant=name, error=run.error, removed=run.removed)
            continue
        log.info("retention_done", tenant=name, days=days, removed=run.removed, parts=len(run.parts))
    return runs


def _drop_months(runs: list[TenantRun]) -> None:
    """Whole expired months first; a failure leaves them to the row-by-row pass and the next run."""
    by_tenant = {run.tenant: run for run in runs}
    try:
        dropped = drop_expired_months(cutoffs={run.tenant: run.cutoff for run in runs})
    except Exception as exc:
        log.error("retention_months_failed", error=str(exc) or type(exc).__name__)
        return
    for name, result in dropped.items():
        if run := by_tenant.get(name):
            run.archived += result.archived
            run.removed += result.removed
            run.parts += result.parts


def _expire_tenant(run: TenantRun) -> None:
    while True:
        with session_scope() as session:
            ids = expired_document_ids(session=session, tenant=run.tenant, before=run.cutoff, limit=CHUNK)
        if not ids:
            return
        if settings.archive_url:
            run.parts += write_archive(url=settings.archive_url, tenant=run.tenant, ids=ids)
            run.archived += len(ids)
        for start in range(0, len(ids), BATCH):
            _remove(run, ids[start : start + BATCH])


def _remove(run: TenantRun, ids: Sequence[uuid.UUID]) -> None:
    names = [str(doc_id) for doc_id in ids]
    backend = get_search_backend()
    backend.delete_documents(names)
    with session_scope() as session:
        run.removed += remove_documents(session=session, ids=ids)
    try:
        backend.delete_documents(names)
    except ServiceUnavailable as exc:
        # They left the index before the commit; this second pass only guards against a re-index.
        log.warning("retention_unindex_after_commit_failed", tenant=run.tenant, reason=str(exc))


def _claim_hour(last_run: float) -> bool:
    """True for one process in each hour: the local process, or the replica that set the shared key."""
    if settings.local_mode:
        return time.monotonic() - last_run >= INTERVAL_SECONDS
    try:
        return bool(redis_client().set(DUE_KEY, "1", nx=True, ex=INTERVAL_SECONDS))
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", type(exc).__name__) from exc


def run_retention_hourly(stop: threading.Event) -> None:
    """The scheduler's retention loop: one run an hour, across its replicas, until `stop`."""
    last_run = float("-inf")
    while not stop.wait(CHECK_SECONDS):
        try:
            if _claim_hour(last_run):
                last_run = time.monotonic()
                _maintain_partitions()
                run_retention()
        except ServiceUnavailable as exc:
            log.warning("retention_unavailable", reason=str(exc))
        except Exception:
            log.exception("retention_crashed")


def _maintain_partitions() -> None:
    """The coming months' partitions, made ahead so that rows never wait on them; a failure (its
    lock not granted in time) leaves two months of slack and is tried again the next hour."""
    try:
        maintain_partitions()
    except Exception as exc:
        log.warning("partitions_not_created", reason=str(exc) or type(exc).__name__)


def start_retention_thread(stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=run_retention_hourly, args=(stop,), name="sie-retention", daemon=True)
    thread.start()
    return thread
