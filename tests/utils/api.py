"""Factories for API tests: real keys in the real database, headers ready to send."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sie.core.db import session_scope
from sie.core.security import ALL_SCOPES, DEFAULT_SCOPES, Scope, create_api_key

GENEROUS_LIMITS = {p: {"requests": 100_000, "period": 60} for p in ("low", "normal", "high")}


@dataclass(frozen=True)
class TestKey:
    key_id: str
    tenant: str
    plain: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.plain}


def make_key(
    tenant: str | None = None,
    *,
    scopes: tuple[Scope, ...] = DEFAULT_SCOPES,
    admin: bool = False,
    rate_limits: dict[str, dict[str, int]] | None = GENEROUS_LIMITS,
) -> TestKey:
    tenant = tenant or f"tenant-{uuid.uuid4().hex[:8]}"
    with session_scope() as session:
        row, plain = create_api_key(
            session, tenant=tenant, scopes=ALL_SCOPES if admin else scopes, rate_limits=rate_limits
        )
        return TestKey(key_id=row.id, tenant=tenant, plain=plain)
