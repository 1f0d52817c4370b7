from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from bench.scratch import ScratchServices
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.scheduler import SourceScheduler
from sie.core.models import Source, utcnow
from tests.sources.sources_site import Site, start_site


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


@pytest.fixture(autouse=True)
def no_politeness_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to their own server: no minimum spacing between requests unless a test asks for it."""
    monkeypatch.setattr(settings, "source_min_host_delay_seconds", 0.0)


@pytest.fixture(autouse=True)
def earlier_sources_not_due() -> None:
    """A scheduler claims every due source in the database; those other tests left behind (any
    module's) are put off, so each test's scheduler polls its own sources only."""
    with session_scope() as session:
        session.execute(update(Source).values(next_run_at=utcnow() + timedelta(days=365)))


@pytest.fixture
def site() -> Iterator[Site]:
    """A fresh local site per test, so request counts belong to that test alone."""
    site, server = start_site()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def scheduler() -> SourceScheduler:
    """A scheduler as one replica would run it (its own robots cache and host gate); real queue."""
    return SourceScheduler()


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    from sie_api.main import app

    with TestClient(app) as test_client:
        yield test_client
