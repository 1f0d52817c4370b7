"""The Meilisearch backend, on the official `meilisearch` client.

Every write is a Meilisearch task; the adapter waits for each one and raises when it fails, so
a caller that returns normally knows the index holds what it sent. Client errors are mapped into
`sie.core.errors` here: unreachable, timed out, 5xx/429 or a refused key → `ServiceUnavailable`
("search"); a request Meilisearch rejects → `PermanentError`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self

import meilisearch
from meilisearch.errors import MeilisearchApiError, MeilisearchCommunicationError, MeilisearchTimeoutError
from meilisearch.index import Index
from meilisearch.models.task import TaskInfo

from sie.core.config import Settings
from sie.core.errors import PermanentError, ServiceUnavailable
from sie.core.logging import get_logger
from sie.core.search.base import MAX_RESULT_WINDOW, SearchDocument, SearchHit, SearchQuery, SearchResults
from sie.core.search.meili_filter import search_filter, unix_seconds

log = get_logger(__name__)

PRIMARY_KEY = "id"
INDEX_SETTINGS: dict[str, Any] = {
    "filterableAttributes": [
        "tenant",
        "source",
        "entities",
        "sentiment_label",
        "language",
        "created_at_ts",
        "published_at_ts",
    ],
    "sortableAttributes": ["created_at_ts"],
    "searchableAttributes": ["title", "text", "keywords", "entities"],
    # Meilisearch serves no hit past 1,000 by default; SIE pages as deep on every backend.
    "pagination": {"maxTotalHits": MAX_RESULT_WINDOW},
}
# Compared as sets when deciding whether the index already has our settings; order only ranks
# searchable attributes.
_UNORDERED_SETTINGS = {"filterableAttributes", "sortableAttributes"}
# Search errors that mean the index or its settings are gone, not that the query is wrong.
_INDEX_SETUP_LOST = {"index_not_found", "invalid_search_filter", "invalid_search_sort"}
# Per HTTP call; waiting for Meilisearch's tasks has its own, longer limit.
REQUEST_TIMEOUT_SECONDS = 5.0
WRITE_BATCH = 500
CROP_WORDS = 30
# What a hit needs besides the snippet; the full text stays on the server.
RETRIEVED_ATTRIBUTES = [
    "id",
    "tenant",
    "title",
    "source",
    "url",
    "sentiment_label",
    "created_at",
    "published_at_ts",
]


class MeilisearchSearch:
    """`SearchBackend` on one Meilisearch index shared by all tenants (every query filters on `tenant`)."""

    name = "meilisearch"

    def __init__(
        self,
        url: str,
        api_key: str | None,
        index_name: str,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        *,
        task_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.index_name = index_name
        self._api_key = api_key
        self._timeout = timeout
        self._task_timeout_ms = int(task_timeout * 1000)
        # The client mutates its shared header dict on every call (Content-Type is set or
        # removed per request), so one client per thread keeps concurrent requests correct.
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(settings.effective_meilisearch_url, settings.meilisearch_key, settings.meilisearch_index)

    # -- SearchBackend --------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        """Create the index if missing, then make its settings ours, before any document lands.

        Cheap after the first success in a process: callers may run it before every write.
        """
        with self._ready_lock, self._mapped_errors():
            if self._ready:
                return
            client = self._client()
            try:
                client.get_index(self.index_name)
            except MeilisearchApiError as exc:
                if exc.code != "index_not_found":
                    raise
                self._create_index(client)
            index = client.index(self.index_name)
            current = index.get_settings()
            if not _settings_match(current):
                self._wait(index.update_settings(dict(INDEX_SETTINGS)), "settings update")
            self._ready = True

    def index_documents(self, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        self.ensure_ready()
        with self._mapped_errors():
            index = self._index()
            # Send every batch before waiting, so Meilisearch can index them back to back.
            tasks = [
                index.add_documents(
                    [_to_meili(doc) for doc in documents[start : start + WRITE_BATCH]], PRIMARY_KEY
                )
                for start in range(0, len(documents), WRITE_BATCH)
            ]
            for task in tasks:
                self._wait(task, "document upsert")

    def delete_documents(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        self.ensure_ready()
        with self._mapped_errors():
            index = self._index()
            tasks = [
                index.delete_documents(ids=list(ids[start : start + WRITE_BATCH]))
                for start in range(0, len(ids), WRITE_BATCH)
            ]
            for task in tasks:
                self._wait(task, "document deletion")

    def search(self, query: SearchQuery) -> SearchResults:
        # The first search of a fresh deployment may come before any write: without our
        # settings, Meilisearch would refuse the tenant filter.
        self.ensure_ready()
        params: dict[str, Any] = {
            "filter": search_filter(query),
            "offset": query.offset,
            "limit": query.limit,
            "attributesToRetrieve": RETRIEVED_ATTRIBUTES,
            "attributesToHighlight": ["text"],
            "attributesToCrop": ["text"],
            "cropLength": CROP_WORDS,
            "highlightPreTag": "<mark>",
            "highlightPostTag": "</mark>",
            "showRankingScore": bool(query.q),
        }
        if not query.q:
            params["sort"] = ["created_at_ts:desc"]
        with self._mapped_errors():
            try:
                response = self._index().search(query.q, params)
            except MeilisearchApiError as exc:
                if exc.code not in _INDEX_SETUP_LOST:
                    raise
                # The index was deleted or its settings reset behind our back: set it up again.
                self._ready = False
                self.ensure_ready()
                response = self._index().search(query.q, params)
        hits = []
        for hit in response["hits"]:
            # String filters in Meilisearch ignore case, so "Acme" would also match "acme";
            # tenant isolation must be exact.
            if hit.get("tenant") != query.tenant:
                log.warning("search_foreign_tenant_hit", index=self.index_name, document_id=hit.get("id"))
                continue
            hits.append(_to_hit(hit))
        if "estimatedTotalHits" in response:
            return SearchResults(hits, int(response["estimatedTotalHits"]), total_relation="gte")
        return SearchResults(hits=hits, total=int(response.get("totalHits", len(hits))))

    def check(self) -> None:
        """Meilisearch answers /health, and our key is accepted (health needs no key)."""
        with self._mapped_errors():
            client = self._client()
            client.health()
            try:
                client.get_index(self.index_name)
            except MeilisearchApiError as exc:
                if exc.code != "index_not_found":
                    raise

    # -- plumbing -------------------------------------------------------------------------------

    def _client(self) -> meilisearch.Client:
        client: meilisearch.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = meilisearch.Client(self.url, self._api_key, timeout=self._timeout)  # type: ignore[arg-type]
            self._local.client = client
        return client

    def _index(self) -> Index:
        return self._client().index(self.index_name)

    def _create_index(self, client: meilisearch.Client) -> None:
        task = client.wait_for_task(
            client.create_index(self.index_name, {"primaryKey": PRIMARY_KEY}).task_uid,
            timeout_in_ms=self._task_timeout_ms,
        )
        # Another process may have created it in between; that is just as good.
        if task.status == "failed" and (task.error or {}).get("code") != "index_already_exists":
            _raise_task_failure("index creation", task.uid, task.error)

    def _wait(self, info: TaskInfo, what: str) -> None:
        task = self._client().wait_for_task(info.task_uid, timeout_in_ms=self._task_timeout_ms)
        if task.status != "succeeded":
            _raise_task_failure(what, task.uid, task.error)

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        try:
            yield
        except (MeilisearchCommunicationError, MeilisearchTimeoutError) as exc:
            raise ServiceUnavailable("search", f"{type(exc).__name__}: {exc.message}") from exc
        except MeilisearchApiError as exc:
            detail = f"HTTP {exc.status_code} {exc.code or ''}: {exc.message}".strip()
            if exc.status_code >= 500 or exc.status_code in (401, 403, 429):
                raise ServiceUnavailable("search", detail) from exc
            raise PermanentError(f"Meilisearch rejected the request: {detail}") from exc


def _settings_match(current: dict[str, Any]) -> bool:
    for key, wanted in INDEX_SETTINGS.items():
        have = current.get(key) or type(wanted)()
        if (set(have) != set(wanted)) if key in _UNORDERED_SETTINGS else (have != wanted):
            return False
    return True


def _to_meili(doc: SearchDocument) -> dict[str, Any]:
    created_at = doc.created_at if doc.created_at.tzinfo else doc.created_at.replace(tzinfo=UTC)
    return {
        "id": doc.id,
        "tenant": doc.tenant,
        "title": doc.title,
        "text": doc.text,
        "source": doc.source,
        "url": doc.url,
        "entities": doc.entities,
        "keywords": doc.keywords,
        "sentiment_label": doc.sentiment_label,
        "sentiment_compound": doc.sentiment_compound,
        "language": doc.language,
        "created_at": created_at.isoformat(),
        # Unix seconds with the microseconds kept, so date filters are exactly the database's.
        "created_at_ts": unix_seconds(created_at),
        "published_at_ts": unix_seconds(doc.published_at) if doc.published_at else None,
    }


def _to_hit(hit: dict[str, Any]) -> SearchHit:
    formatted, published = hit.get("_formatted") or {}, hit.get("published_at_ts")
    return SearchHit(
        id=str(hit["id"]),
        title=hit.get("title"),
        snippet=formatted.get("text") or "",
        source=hit.get("source") or "",
        url=hit.get("url"),
        sentiment_label=hit.get("sentiment_label"),
        created_at=datetime.fromisoformat(hit["created_at"]),
        score=hit.get("_rankingScore"),
        published_at=datetime.fromtimestamp(published, UTC) if published is not None else None,
    )


def _raise_task_failure(what: str, uid: int, error: dict[str, Any] | None) -> None:
    error = error or {}
    detail = f"{what} task {uid} failed: {error.get('code')}: {error.get('message')}"
    if error.get("type") in ("internal", "system"):
        raise ServiceUnavailable("search", detail)
    raise PermanentError(detail)
