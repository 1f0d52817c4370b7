"""Liveness and readiness (`/health`, each dependency named) and Prometheus exposition (`/metrics`)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

import sie
from sie.core.config import settings
from sie.core.db import check_database
from sie.core.errors import ServiceUnavailable
from sie.core.metrics import render_latest
from sie.core.schemas import HealthResponse
from sie.core.search import get_search_backend
from sie_api.deps import get_queue

router = APIRouter(tags=["health"])


def _run_checks() -> dict[str, str]:
    checks: dict[str, str] = {}
    probes = {
        "database": check_database,
        "redis": get_queue().check,
        "search": lambda: get_search_backend().check(),
    }
    for name, probe in probes.items():
        if name == "redis" and settings.local_mode:
            checks[name] = "in-process"
            continue
        try:
            probe()
            checks[name] = "ok"
        except ServiceUnavailable as exc:
            checks[name] = f"unavailable: {exc}"
    return checks


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def health() -> JSONResponse:
    checks = await run_in_threadpool(_run_checks)
    healthy = all(value in ("ok", "in-process") for value in checks.values())
    body = HealthResponse(
        status="ok" if healthy else "degraded",
        checks=checks,
        search_backend=settings.effective_search_backend,
        queue=get_queue().name,
        version=sie.__version__,
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get("/livez", include_in_schema=False)
def livez() -> dict[str, str]:
    """The process answers: for the liveness probe, which must not depend on PostgreSQL or Redis."""
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    payload, content_type = render_latest()
    return Response(payload, media_type=content_type)
