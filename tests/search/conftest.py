"""Fixtures of the search tests: the Meilisearch fake, held to Meilisearch's OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.scratch import ScratchServices
from tests.utils.meili_fake import MeiliFake


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
