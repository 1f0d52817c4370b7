"""The `language` filter, and documents without sentiment, in every search backend.

A document no sentiment model read (its language has none) carries no label: the `sentiment`
filter never matches it, whatever the label asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from sie.core.db import session_scope
from sie.core.engine.indexing import search_document
from sie.core.models import Base, Document, DocumentStatus
from sie.core.search import DatabaseSearch, MeilisearchSearch, SearchBackend, SearchDocument, SearchQuery
from tests.utils.meili_fake import MeiliFake

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# name -> (language, sentiment label): English is scored, French and German are not.
DOCUMENTS = {
    "en-positive": ("en", "positive"),
    "en-neutral": ("en", "neutral"),
    "fr-unscored": ("fr", None),
    "de-unscored": ("de", None),
    "unknown-unscored": (None, None),
}

CASES = [
    ({"language": "en"}, {"en-positive", "en-neutral"}),
    ({"language": "fr"}, {"fr-unscored"}),
    ({"language": "nb"}, set()),
    ({"language": "fr", "sentiment": "neutral"}, set()),
    ({"sentiment": "neutral"}, {"en-neutral"}),
    ({"sentiment": "positive"}, {"en-positive"}),
    ({}, set(DOCUMENTS)),
]

# Indexes a batch of documents for a tenant and returns their ids by name.
Indexer = Callable[[str], dict[str, str]]


def _rows(tenant: str) -> dict[str, Document]:
    return {
        name: Document(
            tenant=tenant,
            text=f"Quarterly report {name}",
            source="api",
            status=DocumentStatus.done,
            language=language,
            sentiment_label=label,
            sentiment_compound=0.5 if label == "positive" else (0.0 if label else None),
            created_at=NOW,
        )
        for name, (language, label) in DOCUMENTS.items()
    }


@pytest.fixture(params=["postgresql", "sqlite", "meilisearch"])
def searched(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SearchBackend, Indexer]]:
    if request.param == "meilisearch":
        fake = MeiliFake()
        fake.start()
        backend = MeilisearchSearch(fake.url, fake.api_key, "documents", timeout=2, task_timeout=5)
        yield backend, lambda tenant: _index_meili(backend, tenant)
        fake.stop()
        assert not fake.violations, fake.violations
        return
    engine = None
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'sie.db'}")
        Base.metadata.create_all(engine)
    backend = DatabaseSearch(engine=engine) if engine is not None else DatabaseSearch()
    backend.ensure_ready()
    sessions = sessionmaker(bind=engine, expire_on_commit=False) if engine is not None else None
    yield backend, lambda tenant: _index_database(backend, sessions, tenant)
    if engine is not None:
        engine.dispose()


def _index_database(backend: DatabaseSearch, sessions: sessionmaker | None, tenant: str) -> dict[str, str]:
    rows = _rows(tenant)
    with sessions.begin() if sessions is not None else session_scope() as session:
        session.add_all(rows.values())
    backend.index_documents([search_document(row) for row in rows.values()])
    return {name: str(row.id) for name, row in rows.items()}


def _index_meili(backend: MeilisearchSearch, tenant: str) -> dict[str, str]:
    documents = {
        name: SearchDocument(
            id=str(uuid.uuid4()),
            tenant=tenant,
            title=None,
            text=f"Quarterly report {name}",
            source="api",
            url=None,
            created_at=NOW,
            language=language,
            sentiment_label=label,
        )
        for name, (language, label) in DOCUMENTS.items()
    }
    backend.index_documents(list(documents.values()))
    return {name: document.id for name, document in documents.items()}


@pytest.mark.parametrize(("filters", "expected"), CASES)
@pytest.mark.parametrize("q", ["", "report"])
def test_language_and_sentiment_filters(
    searched: tuple[SearchBackend, Indexer], q: str, filters: dict[str, str], expected: set[str]
) -> None:
    backend, index = searched
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    names = {document_id: name for name, document_id in index(tenant).items()}

    results = backend.search(SearchQuery(tenant=tenant, q=q, **filters))  # type: ignore[arg-type]

    assert {names[hit.id] for hit in results.hits} == expected
    assert results.total == len(expected)
    assert all(hit.sentiment_label is None for hit in results.hits if names[hit.id].endswith("unscored"))
