"""The `sie` commands that manage keys and dead letters, on the run's PostgreSQL database and Redis db."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bench.scratch import ScratchServices


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    from sie_api.main import app

    with TestClient(app) as test_client:
        yield test_client
