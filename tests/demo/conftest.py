"""`sie demo` and `sie ingest`; `sie ingest` runs on the run's PostgreSQL database and Redis db."""

from __future__ import annotations

import pytest

from bench.scratch import ScratchServices


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""
