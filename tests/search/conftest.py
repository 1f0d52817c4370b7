"""Fixtures of the search tests: the Meilisearch fake, held to Meilisearch's OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.utils.meili_fake import MeiliFake


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
