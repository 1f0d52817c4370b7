"""Liveness and readiness (`/health`, each dependency named) and Prometheus exposition (`/metrics`).

`/health` runs a check that succeeded at most once a `HEALTH_CACHE_SECONDS`, however many probes
ask: a probe storm (or a load balancer polling every instance) cannot load the database, Redis or
search. The read replica (DATABASE_READ_URL) is reported beside the checks, never in them: while it
is down its reads go to the primary, so readiness does not depend on it. Its lag is measured when
`/health` or `/metrics` is served, at most once a `HEALTH_CACHE_SECONDS` as well.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

import sie
from sie.core.config import settings
from sie.core.db import check_database
from sie.core.engine.runtime import get_job_queue
from sie.core.errors import ServiceUnavailable
from sie.core.metrics import DEPENDENCY_UP, REPLICA_LAG, render_latest
from sie.core.replica import ReplicaStatus, replica_failing, replica_status
from sie.core.schemas import HealthResponse
from sie.core.schemas.common import ReplicaHealth
from sie.core.search import get_search_backend

router = APIRouter(tags=["health"])
HEALTH_CACHE_SECONDS = 1.0


def _probes() -> dict[str, Callable[[], None]]:
    return {
        "database": check_database,
        "redis": get_job_queue().check,
        "search": lambda: get_search_backend().check(),
    }


class CachedChecks:
    """The checks of `/health`. A check that succeeded is not run again for `ttl` seconds, however
    many probes ask; one that failed runs at the next probe, so a recovery shows at once. One
    caller runs them at a time: concurrent probes wait, then find the successes it kept."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._ok_until: dict[str, float] = {}

    def get(self) -> dict[str, str]:
        with self._lock:
            checks = {name: self._check(name, probe) for name, probe in _probes().items()}
        for name, state in checks.items():
            if state != "in-process":  # local mode has no Redis to be down
                DEPENDENCY_UP.labels(dependency=name).set(state == "ok")
        return checks

    def _check(self, name: str, probe: Callable[[], None]) -> str:
        if name == "redis" and settings.local_mode:
            return "in-process"
        if time.monotonic() < self._ok_until.get(name, 0.0):
            return "ok"
        try:
            probe()
        except ServiceUnavailable as exc:
            return f"unavailable: {exc}"
        self._ok_until[name] = time.monotonic() + self.ttl
        return "ok"


class CachedReplica:
    """The replica's state and lag (`sie_db_replica_lag_seconds`), as `CachedChecks` keeps a check:
    one that reached the replica serves for `ttl` seconds, unless a read failed to reach it since;
    one that did not is measured again."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._status: ReplicaStatus | None = None
        self._until = 0.0

    def get(self) -> ReplicaStatus | None:
        with self._lock:
            stale = self._status is None or self._status.state == "down" or replica_failing()
            if stale or time.monotonic() >= self._until:
                self._status = replica_status()
                self._until = time.monotonic() + self.ttl
            status = self._status
        if status is not None:
            REPLICA_LAG.set(math.nan if status.lag_seconds is None else status.lag_seconds)
        return status


_checks = CachedChecks(HEALTH_CACHE_SECONDS)
_replica = CachedReplica(HEALTH_CACHE_SECONDS)


def _health() -> tuple[dict[str, str], ReplicaStatus | None]:
    return _checks.get(), _replica.get()


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def health() -> JSONResponse:
    checks, replica = await run_in_threadpool(_health)
    healthy = all(value in ("ok", "in-process") for value in checks.values())
    body = HealthResponse(
        status="ok" if healthy else "degraded",
        checks=checks,
        search_backend=settings.effective_search_backend,
        queue=get_job_queue().name,
        version=sie.__version__,
        replica=None if replica is None else ReplicaHealth(**vars(replica)),
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get("/livez", include_in_schema=False)
def livez() -> dict[str, str]:
    """The process answers: for the liveness probe, which must not depend on PostgreSQL or Redis."""
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    _replica.get()
    payload, content_type = render_latest()
    return Response(payload, media_type=content_type)
