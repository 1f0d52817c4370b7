"""Factories for API tests: real keys in the real database, headers ready to send."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sie.core.db import session_scope
from sie.core.security import ALL_SCOPES, DEFAULT_SCOPES, Scope, create_api_key

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from sie.core.queues import JobQueue

GENEROUS_LIMITS = {p: {"requests": 100_000, "period": 60} for p in ("low", "normal", "high")}


@dataclass(frozen=True)
class TestKey:
    key_id: str
    tenant: str
    plain: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.plain}


def add_key(
    session: Session,
    tenant: str | None = None,
    *,
    scopes: tuple[Scope, ...] = DEFAULT_SCOPES,
    admin: bool = False,
    rate_limits: dict[str, dict[str, int]] | None = GENEROUS_LIMITS,
) -> TestKey:
    """A key (of a new tenant unless one is named) added in `session`; the caller commits."""
    tenant = tenant or f"tenant-{uuid.uuid4().hex[:8]}"
    row, plain = create_api_key(
        session, tenant=tenant, scopes=ALL_SCOPES if admin else scopes, rate_limits=rate_limits
    )
    return TestKey(key_id=row.id, tenant=tenant, plain=plain)


def make_key(
    tenant: str | None = None,
    *,
    scopes: tuple[Scope, ...] = DEFAULT_SCOPES,
    admin: bool = False,
    rate_limits: dict[str, dict[str, int]] | None = GENEROUS_LIMITS,
) -> TestKey:
    """A key in the test run's database."""
    with session_scope() as session:
        return add_key(session, tenant, scopes=scopes, admin=admin, rate_limits=rate_limits)


@contextmanager
def api_client_with_queue(queue: JobQueue) -> Iterator[TestClient]:
    """The API in this process with its broker replaced by `queue` (tests run the jobs themselves)."""
    from fastapi.testclient import TestClient
    from sie_api.deps import get_queue
    from sie_api.main import app

    app.dependency_overrides[get_queue] = lambda: queue
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.dependency_overrides.pop(get_queue, None)
