"""Month partitions kept ahead, and whole expired months dropped rather than deleted row by row.

A month partition is dropped when every tenant with documents in it has a retention whose cutoff
is past the month's end; a tenant that keeps everything (retention off) keeps the month. Per month:
archive each tenant's documents (when ARCHIVE_URL is set, batch by batch, the same part files as
row-by-row retention), then `detach_month` (one transaction: dependents, rollups, detach), then
take the documents out of the search index from the detached table, then drop it. An archive
failure leaves the month whole; retention row by row then meets the same failure per tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.archive import write_archive
from sie.core.logging import get_logger
from sie.core.repository.partition_drop import detach_month, drop_detached
from sie.core.repository.partitions import (
    detached_months,
    ensure_partitions,
    month_document_ids,
    month_partitions,
    next_month,
    partition_name,
    table_tenants,
)
from sie.core.repository.rollups import as_utc
from sie.core.search import get_search_backend

log = get_logger(__name__)
# Documents read from a month per batch (archived as one set of part files, unindexed together).
CHUNK = 10_000


@dataclass
class MonthDropped:
    """What dropping months did for one tenant."""

    archived: int = 0
    removed: int = 0
    parts: list[str] = field(default_factory=list)


def maintain_partitions(now: datetime | None = None) -> list[str]:
    """Create the month partitions due (the current month and those ahead); the names created."""
    with session_scope() as session:
        created = ensure_partitions(session=session, now=now)
    if created:
        log.info("partitions_created", partitions=created)
    return created


def expired_months(*, cutoffs: Mapping[str, datetime]) -> list[date]:
    """The month partitions every tenant of which is past its cutoff (tenant -> cutoff; a tenant
    absent keeps everything)."""
    months = []
    with session_scope() as session:
        for month in month_partitions(session=session):
            end = datetime.combine(next_month(month), datetime.min.time(), tzinfo=UTC)
            tenants = table_tenants(session=session, table=partition_name("documents", month))
            if tenants and all(tenant in cutoffs and end <= as_utc(cutoffs[tenant]) for tenant in tenants):
                months.append(month)
    return months


def drop_expired_months(*, cutoffs: Mapping[str, datetime]) -> dict[str, MonthDropped]:
    """Drop every expired month (and finish any drop a failed run left detached); per tenant,
    what went. Raises on the first month that fails: later months wait for the next run."""
    dropped: dict[str, MonthDropped] = {}
    with session_scope() as session:
        leftovers = detached_months(session=session)
    for month in leftovers:
        _unindex_and_drop(month)
    for month in expired_months(cutoffs=cutoffs):
        if settings.archive_url:
            _archive_month(month, settings.archive_url, dropped)
        with session_scope() as session:
            counts = detach_month(session=session, month=month)
        for tenant, count in counts.items():
            dropped.setdefault(tenant, MonthDropped()).removed += count
        _unindex_and_drop(month)
        log.info("retention_month_dropped", month=f"{month:%Y-%m}", documents=sum(counts.values()))
    return dropped


def _archive_month(month: date, url: str, dropped: dict[str, MonthDropped]) -> None:
    table = partition_name("documents", month)
    with session_scope() as session:
        tenants = table_tenants(session=session, table=table)
    for tenant in tenants:
        for ids in _batches(table, tenant):
            result = dropped.setdefault(tenant, MonthDropped())
            result.parts += write_archive(url=url, tenant=tenant, ids=ids)
            result.archived += len(ids)


def _unindex_and_drop(month: date) -> None:
    """Out of the search index, read from the detached table (its rows are out of `documents`, so
    nothing indexes them again), then dropped."""
    table = partition_name("documents", month)
    backend = get_search_backend()
    with session_scope() as session:
        tenants = table_tenants(session=session, table=table)
    for tenant in tenants:
        for ids in _batches(table, tenant):
            backend.delete_documents([str(doc_id) for doc_id in ids])
    with session_scope() as session:
        drop_detached(session=session, month=month)


def _batches(table: str, tenant: str) -> Iterator[list[uuid.UUID]]:
    """A tenant's documents in a month's table, CHUNK ids at a time, each read in its own session."""
    after = None
    while True:
        with session_scope() as session:
            keys = month_document_ids(session=session, table=table, tenant=tenant, after=after, limit=CHUNK)
        if not keys:
            return
        yield [doc_id for _, doc_id in keys]
        after = keys[-1]
