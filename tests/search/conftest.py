"""Fixtures of the search tests: a corpus on the built-in backend (PostgreSQL and SQLite), and the
Meilisearch fake, held to Meilisearch's OpenAPI document."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from bench.scratch import ScratchServices
from sie.core.db import session_scope
from sie.core.engine.indexing import search_document
from sie.core.models import Base, Document, DocumentEntity, DocumentStatus
from sie.core.search import DatabaseSearch, SearchQuery
from tests.utils.meili_fake import MeiliFake

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


@pytest.fixture
def meili_fake() -> Iterator[MeiliFake]:
    """A fresh fake server per test; any request or response outside the contract fails the test."""
    fake = MeiliFake()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    if fake.violations:
        violations = "\n".join(fake.violations)
        pytest.fail(f"Meilisearch fake saw traffic outside the OpenAPI document:\n{violations}")


@dataclass
class Corpus:
    """A search backend and a way to put documents where it looks, for one fresh tenant."""

    backend: DatabaseSearch
    session_scope: Callable[[], AbstractContextManager[Session]]
    tenant: str

    def add(
        self,
        text: str,
        *,
        title: str | None = None,
        tenant: str | None = None,
        source: str = "api",
        sentiment: str | None = None,
        entities: tuple[str, ...] = (),
        created_at: datetime = NOW,
        published_at: datetime | None = None,
        status: str = DocumentStatus.done,
        index: bool = True,
    ) -> str:
        document = Document(
            tenant=tenant or self.tenant,
            title=title,
            text=text,
            source=source,
            status=status,
            sentiment_label=sentiment,
            entities=[{"text": e, "label": "GPE", "count": 1} for e in entities],
            created_at=created_at,
            published_at=published_at,
        )
        with self.session_scope() as session:
            session.add(document)
            session.flush()
            session.add_all(
                DocumentEntity(document_id=document.id, tenant=document.tenant, text=e, label="GPE")
                for e in entities
            )
        if index:
            self.backend.index_documents([search_document(document)])
        return str(document.id)

    def search(self, q: str = "", **filters: object) -> list[str]:
        return [hit.id for hit in self.backend.search(SearchQuery(tenant=self.tenant, q=q, **filters)).hits]  # type: ignore[arg-type]


@pytest.fixture(params=["postgresql", "sqlite"])
def corpus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Corpus]:
    if request.param == "postgresql":
        yield _postgres_corpus()
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'sie.db'}")
    Base.metadata.create_all(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def sqlite_scope() -> Iterator[Session]:
        with sessions.begin() as session:
            yield session

    backend = DatabaseSearch(engine=engine)
    backend.ensure_ready()
    yield Corpus(backend, sqlite_scope, _new_tenant())
    engine.dispose()


@pytest.fixture
def postgres_corpus() -> Corpus:
    """For what only PostgreSQL does (bounded ranking, the stored vector)."""
    return _postgres_corpus()


def _postgres_corpus() -> Corpus:
    backend = DatabaseSearch()
    backend.ensure_ready()
    return Corpus(backend, session_scope, _new_tenant())


def _new_tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"
