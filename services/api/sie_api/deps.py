"""Dependencies as `Annotated` aliases: routes declare what they need and never build clients.

FastAPI runs each sync dependency on its thread pool, a thread hand-over each: those that do no I/O
are `async`. The accept routes check their key themselves (`authenticate`), on the thread that does
the rest of their work (`on_accept_thread`): one hand-over a request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from typing import Annotated, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Header
from sqlalchemy.orm import Session

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import autocommit_read, database_errors, request_session
from sie.core.engine.runtime import get_job_queue
from sie.core.errors import Forbidden, RateLimited, Unauthorized
from sie.core.queues import JobQueue
from sie.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from sie.core.redis import redis_client
from sie.core.replica import read_session_scope
from sie.core.security import Principal, Scope, is_well_formed, verify_api_key

T = TypeVar("T")


# Accepting is mostly waiting on PostgreSQL and Redis: a few threads overlap that. More only queue
# for the GIL: with the default 40, a stall (a checkpoint, a busy neighbour) left many threads
# runnable at once and the event loop waited behind them. At 200/s on 2 cores, p99 was 11-200 ms
# (six runs, three over 100) with 40 threads, 17-60 ms (five runs) with 8.
ACCEPT_THREADS = 8
_accept_threads: RunVar[CapacityLimiter] = RunVar("sie_accept_threads")


async def on_accept_thread(work: Callable[[], T]) -> T:
    """Run an accept route's work (key, rate limit, rows, enqueue) on one of `ACCEPT_THREADS`."""
    try:
        limiter = _accept_threads.get()
    except LookupError:
        limiter = CapacityLimiter(ACCEPT_THREADS)
        _accept_threads.set(limiter)  # one per event loop, as anyio's own default limiter
    return await to_thread.run_sync(work, limiter=limiter)


def get_session() -> Iterator[Session]:
    """The request's session; what the route raises passes through it, so database failures are mapped."""
    with request_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_read_session() -> Iterator[Session]:
    """A session for reads that may trail the latest writes (search, insights, lists): on the
    replica when DATABASE_READ_URL names one that answers, else on the primary. A route that reads
    what its caller may just have written (a job's status after submit) takes `SessionDep`."""
    with read_session_scope() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


async def get_queue() -> JobQueue:
    return get_job_queue()


QueueDep = Annotated[JobQueue, Depends(get_queue)]


@cache
def _rate_limiter() -> RateLimiter:
    return MemoryRateLimiter() if settings.local_mode else RedisRateLimiter(redis_client())


async def get_rate_limiter() -> RateLimiter:
    return _rate_limiter()


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


INVALID_KEY = "invalid or revoked API key"


async def presented_key(x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None) -> str:
    """The `X-API-Key` header: 401 at once when it is missing or not shaped like a key."""
    if not x_api_key:
        raise Unauthorized("missing X-API-Key header")
    if not is_well_formed(x_api_key):
        raise Unauthorized(INVALID_KEY)
    return x_api_key


PresentedKey = Annotated[str, Depends(presented_key)]


def _principal(presented: str) -> Principal:
    """The key's principal, read at every request (one autocommit round trip): a revoked key is
    refused at once."""
    principal = autocommit_read(lambda connection: verify_api_key(connection, presented))
    if principal is None:
        raise Unauthorized(INVALID_KEY)
    return principal


def _with_scope(principal: Principal, scope: Scope) -> Principal:
    if not principal.has(scope):
        raise Forbidden(f"this API key lacks the '{scope}' scope")
    return principal


def authenticate(presented: str, scope: Scope) -> Principal:
    """What `require(scope)` checks, for a route that runs it on its own thread with the rest of its
    work (the accept routes: one thread hand-over a request instead of two)."""
    return _with_scope(_principal(presented), scope)


def get_principal(presented: PresentedKey) -> Iterator[Principal]:
    """The key's principal. What the route raises passes through here: the database failures of a
    route that reads without a session of its own (search) are mapped, as `get_session` maps them."""
    principal = _principal(presented)
    with database_errors():
        yield principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:
        return _with_scope(principal, scope)

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
