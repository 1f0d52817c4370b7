"""Dependencies as `Annotated` aliases: routes declare what they need and never build clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import request_session
from sie.core.engine.runtime import get_job_queue
from sie.core.errors import Forbidden, RateLimited, Unauthorized
from sie.core.queues import JobQueue
from sie.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from sie.core.redis import redis_client
from sie.core.security import Principal, Scope, verify_api_key


def get_session() -> Iterator[Session]:
    """The request's session; what the route raises passes through it, so database failures are mapped."""
    with request_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_queue() -> JobQueue:
    return get_job_queue()


QueueDep = Annotated[JobQueue, Depends(get_queue)]


@cache
def _rate_limiter() -> RateLimiter:
    return MemoryRateLimiter() if settings.local_mode else RedisRateLimiter(redis_client())


def get_rate_limiter() -> RateLimiter:
    return _rate_limiter()


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def get_principal(
    session: SessionDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> Principal:
    if not x_api_key:
        raise Unauthorized("missing X-API-Key header")
    principal = verify_api_key(session, x_api_key)
    # End the read now: the connection goes back to the pool while the route checks rate limits.
    session.rollback()
    if principal is None:
        raise Unauthorized("invalid or revoked API key")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(scope: Scope) -> Callable[[Principal], Principal]:
    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has(scope):
            raise Forbidden(f"this API key lacks the '{scope}' scope")
        return principal

    return check


def tenant_for(principal: Principal, requested: str | None) -> str:
    """The tenant a request acts for: the key's own, or any tenant it names with the `system` scope."""
    if requested is None or requested == principal.tenant:
        return principal.tenant
    if not principal.has("system"):
        raise Forbidden(
            f"this API key acts for tenant '{principal.tenant}' only; other tenants need the 'system' scope"
        )
    return requested


IngestPrincipal = Annotated[Principal, Depends(require("ingest"))]
ReadPrincipal = Annotated[Principal, Depends(require("read"))]
AdminPrincipal = Annotated[Principal, Depends(require("admin"))]


def charge_rate_limit(limiter: RateLimiter, principal: Principal, priority: str, cost: int = 1) -> None:
    """Charge `cost` units to the key's window for `priority`; `RateLimited` (429) when over."""
    decision = limiter.hit(principal.key_id, priority, cost, principal.rate_limits)
    if not decision.allowed:
        metrics.RATE_LIMITED.labels(priority=priority).inc()
        raise RateLimited(
            priority, limit=decision.limit, remaining=decision.remaining, retry_after=decision.retry_after
        )
