"""A poll's new items: which of the listed ones are new, then fetching and ingesting them.

New items are fetched here, not by the workers, so robots.txt, Crawl-delay and the per-host limit
cover every request made for a source. Their bytes go through the one ingest path
(`add_documents` + `enqueue_new`) in the same transaction that records the item, so a crash can
never ingest an item twice or lose the record of it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.ingest import NewDocument, add_documents
from sie.core.engine.outbox import enqueue_new
from sie.core.engine.scheduler.claim import ClaimedSource
from sie.core.errors import (
    PermanentError,
    PollBudgetExhausted,
    PollInterrupted,
    RobotsDisallowed,
    TransientError,
)
from sie.core.fetch import FetchedContent
from sie.core.logging import get_logger
from sie.core.models import JobKind, SourceItem, utcnow
from sie.core.queues import JobQueue
from sie.core.sources.base import DiscoveredItem
from sie.core.sources.politeness import PollContext

log = get_logger(__name__)

# Looked up in chunks, so a sitemap of 50,000 URLs never becomes one giant IN (...).
LOOKUP_CHUNK = 500
CONTENT_TYPE_CHARS = 100
TITLE_CHARS = 1000


class ItemStatus(enum.StrEnum):
    ingested = "ingested"
    duplicate = "duplicate"
    disallowed = "disallowed"
    failed = "failed"


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

    def add(self, status: str) -> None:
        if status == ItemStatus.ingested:
            self.ingested += 1
        elif status == ItemStatus.duplicate:
            self.skipped += 1
        elif status == ItemStatus.disallowed:
            self.disallowed += 1
        else:
            self.failed += 1


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def unique_items(items: Sequence[DiscoveredItem]) -> list[DiscoveredItem]:
    """The first item per URL: a feed that lists a link twice yields one item."""
    seen: set[str] = set()
    unique: list[DiscoveredItem] = []
    for item in items:
        if item.url not in seen:
            seen.add(item.url)
            unique.append(item)
    return unique


def unknown_items(claimed: ClaimedSource, items: Sequence[DiscoveredItem]) -> list[DiscoveredItem]:
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
                rows = session.scalars(
                    select(SourceItem.guid).where(
                        SourceItem.source_id == claimed.id, SourceItem.guid.in_(guids)
                    )
                )
                known_guids.update(guid for guid in rows if guid)
    return [
        item
        for item in items
        if url_hash(item.url) not in known_urls and (item.guid is None or item.guid not in known_guids)
    ]


def take_items(
    claimed: ClaimedSource,
    items: Sequence[DiscoveredItem],
    ctx: PollContext,
    counts: PollCounts,
    *,
    queue: JobQueue,
) -> None:
    """Fetch and ingest new items, up to SOURCE_MAX_ITEMS_PER_POLL and the poll's time budget."""
    for index, item in enumerate(items):
        if index >= settings.source_max_items_per_poll:
            counts.backlog += len(items) - index
            return
        if ctx.stop.is_set():
            raise PollInterrupted("the scheduler is stopping")
        try:
            counts.add(_take_item(claimed, item, ctx, queue))
        except PollBudgetExhausted:
            counts.backlog += len(items) - index
            return
        except PollInterrupted:
            raise
        except TransientError as exc:
            # Not recorded, so the next poll tries the item again.
            log.info("source_item_deferred", source=claimed.name, url=item.url, reason=str(exc))
            counts.deferred += 1


def _take_item(claimed: ClaimedSource, item: DiscoveredItem, ctx: PollContext, queue: JobQueue) -> str:
    if _tenant_has(claimed.tenant, SourceItem.url_hash == url_hash(item.url)):
        return _record_item(claimed, item, ItemStatus.duplicate)
    try:
        # A feed entry with no page of its own brings its content along: nothing to fetch.
        fetched = item.inline if item.inline is not None else ctx.fetch_item(item.url)
    except RobotsDisallowed as exc:
        return _record_item(claimed, item, ItemStatus.disallowed, error=str(exc))
    except PermanentError as exc:
        return _record_item(claimed, item, ItemStatus.failed, error=str(exc))
    if not fetched.content:
        return _record_item(claimed, item, ItemStatus.failed, error=f"{item.url} answered with no content")
    digest = hashlib.sha256(fetched.content).hexdigest()
    details = {"etag": fetched.etag, "last_modified": fetched.last_modified, "content_hash": digest}
    if _tenant_has(claimed.tenant, SourceItem.content_hash == digest):
        return _record_item(claimed, item, ItemStatus.duplicate, **details)
    with session_scope() as session:
        submission = add_documents(
            session, tenant=claimed.tenant, documents=[_new_document(claimed, item, fetched)]
        )[0]
        status = ItemStatus.duplicate if submission.duplicate else ItemStatus.ingested
        session.add(_item_row(claimed, item, status, document_id=submission.document_id, **details))
    enqueue_new(queue, [submission])
    return status


def _new_document(claimed: ClaimedSource, item: DiscoveredItem, fetched: FetchedContent) -> NewDocument:
    """The item's bytes as a document of the source, with what the listing said about it.

    `published` (a feed entry's own date) becomes the document's `published_at` when it is stored,
    whatever date the page gives; `modified` (a sitemap's lastmod) is kept as listed, nothing more.
    """
    listed = {
        "source_type": claimed.type,
        "guid": item.guid,
        "published": item.published.isoformat() if item.published else None,
        "modified": item.modified.isoformat() if item.modified else None,
    }
    return NewDocument(
        data=fetched.content,
        url=item.url,
        content_type=(fetched.content_type or "")[:CONTENT_TYPE_CHARS] or None,
        title=(item.title or "")[:TITLE_CHARS] or None,
        source=claimed.name,
        priority=claimed.priority,
        ocr_strategy=claimed.ocr_strategy,  # type: ignore[arg-type]
        kind=JobKind.ocr if claimed.ocr_strategy == "ocr_only" else JobKind.ingest,
        external_id=item.guid,
        metadata={key: value for key, value in listed.items() if value},
    )


def _tenant_has(tenant: str, condition: Any) -> bool:
    """Whether any source of the tenant already ingested an item matching `condition`."""
    with session_scope() as session:
        found = session.scalar(
            select(SourceItem.id)
            .where(SourceItem.tenant == tenant, SourceItem.status == ItemStatus.ingested, condition)
            .limit(1)
        )
        return found is not None


def _record_item(claimed: ClaimedSource, item: DiscoveredItem, status: str, **details: Any) -> str:
    with session_scope() as session:
        session.add(_item_row(claimed, item, status, **details))
    return status


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
