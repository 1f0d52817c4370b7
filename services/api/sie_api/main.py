"""The FastAPI application: routers, body-size limit, request metrics; errors answer in `sie_api.errors`.

`uvicorn sie_api.main:app` (or `sie serve`) runs it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

import sie
from sie.core import metrics
from sie.core.config import settings
from sie.core.engine.relay import start_relay_thread
from sie.core.errors import ServiceUnavailable
from sie.core.logging import configure_logging, get_logger
from sie.core.observability import init_sentry
from sie.core.search import get_search_backend
from sie_api.deps import get_queue
from sie_api.errors import install_error_handlers
from sie_api.limits import BodySizeLimit
from sie_api.responses import V1_ERRORS
from sie_api.routes import dead_letters, documents, health, insights, jobs, search, sources

log = get_logger(__name__)
UNLOGGED_ROUTES = ("/metrics", "/health", "/livez")


def _route_template(request: Request) -> str:
    """The route's path template (`/v1/jobs/{job_id}`): a bounded metric label, never the raw path."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure_logging(settings.log_level)
    init_sentry("api")
    metrics.set_component("api")
    try:
        get_search_backend().ensure_ready()
    except ServiceUnavailable as exc:
        log.warning("search_not_ready", reason=str(exc))
    stop_relay = start_relay_thread(get_queue())
    log.info(
        "api_started",
        version=sie.__version__,
        environment=settings.environment,
        search_backend=settings.effective_search_backend,
        queue=get_queue().name,
    )
    yield
    stop_relay.set()


async def observe_requests(request: Request, call_next: Any) -> Any:
    """Every request's duration by route and status, and a log line for each but the probes."""
    start = time.perf_counter()
    status_code = 500
    try:
        response = await call_next(request)
        status_code = response.status_code
        return response
    finally:
        elapsed = time.perf_counter() - start
        route = _route_template(request)
        metrics.HTTP_DURATION.labels(request.method, route, str(status_code)).observe(elapsed)
        if route not in UNLOGGED_ROUTES:
            log.info(
                "http_request",
                method=request.method,
                route=route,
                status=status_code,
                duration_ms=round(elapsed * 1000, 2),
            )


def create_app() -> FastAPI:
    app = FastAPI(
        title="SIE — Smart Ingestion Engine",
        version=sie.__version__,
        description="Ingest content from many sources, enrich it (entities, keywords, sentiment), search it.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    for module in (documents, jobs, search, insights, dead_letters, sources):
        app.include_router(module.router, responses=V1_ERRORS)
    app.middleware("http")(observe_requests)
    install_error_handlers(app)
    # Added last, so it runs first: an oversized body is refused before anything reads it.
    app.add_middleware(
        BodySizeLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    return app


app = create_app()
