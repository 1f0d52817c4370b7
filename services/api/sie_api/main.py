"""The FastAPI application: routers, body-size limit, request metrics; errors answer in `sie_api.errors`.

`uvicorn sie_api.main:app` (or `sie serve`) runs it.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import sie
from sie.core import metrics
from sie.core.config import settings
from sie.core.engine.relay import start_relay_thread
from sie.core.engine.runtime import get_job_queue
from sie.core.errors import ServiceUnavailable
from sie.core.logging import configure_logging, get_logger
from sie.core.observability import init_sentry
from sie.core.search import get_search_backend
from sie_api.console import mount_console
from sie_api.errors import install_error_handlers
from sie_api.limits import BodySizeLimit
from sie_api.openapi import complete_openapi, refuse_nul_in_query
from sie_api.responses import V1_ERRORS
from sie_api.routes import dead_letters, documents, health, insights, jobs, queues, search, sources, tenants

log = get_logger(__name__)
_stdlib_log = logging.getLogger(__name__)
UNLOGGED_ROUTES = ("/metrics", "/health", "/livez")


def _route_template(scope: Scope) -> str:
    """The route's path template (`/v1/jobs/{job_id}`): a bounded metric label, never the raw path."""
    return getattr(scope.get("route"), "path_format", None) or "unmatched"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    init_sentry("api")
    metrics.set_component("api")
    try:
        get_search_backend().ensure_ready()
    except ServiceUnavailable as exc:
        log.warning("search_not_ready", reason=str(exc))
    stop_relay = start_relay_thread(get_job_queue())
    # What the process holds once started (modules, models, routes: most of its objects) is kept out
    # of every later garbage collection: a full collection stopped the API for 60-150 ms under load.
    gc.collect()
    gc.freeze()
    log.info(
        "api_started",
        version=sie.__version__,
        environment=settings.environment,
        search_backend=settings.effective_search_backend,
        queue=get_job_queue().name,
    )
    yield
    stop_relay.set()


class ObserveRequests:
    """Every request's duration by route and status, and a log line for each but the probes.

    A plain ASGI middleware: `@app.middleware("http")` (`BaseHTTPMiddleware`) ran each request
    through a task group and a memory stream of its own.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status_code = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            _observe(scope, status_code, time.perf_counter() - start)


def _observe(scope: Scope, status_code: int, elapsed: float) -> None:
    route = _route_template(scope)
    metrics.HTTP_DURATION.labels(scope["method"], route, str(status_code)).observe(elapsed)
    # structlog runs its processors before the level filter: skip the line unless it is written.
    if route not in UNLOGGED_ROUTES and _stdlib_log.isEnabledFor(logging.INFO):
        log.info(
            "http_request",
            method=scope["method"],
            route=route,
            status=status_code,
            duration_ms=round(elapsed * 1000, 2),
        )


def create_app() -> FastAPI:
    # Here, not in the lifespan: plain `uvicorn sie_api.main:app` then logs only JSON lines, its own
    # start-up lines included (it imports the app before it logs them).
    configure_logging(settings.log_level)
    app = FastAPI(
        debug=settings.debug,  # tracebacks in 500 answers; refused in production by the settings
        title="SIE — Smart Ingestion Engine",
        version=sie.__version__,
        description="Ingest content from many sources, enrich it (entities, keywords, sentiment), search it.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul_in_query)],  # what the document says of every query value
        # Served from the package by `mount_console`: the CDN defaults render blank offline.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(health.router)
    for module in (documents, jobs, queues, search, insights, dead_letters, sources, tenants):
        app.include_router(module.router, responses=V1_ERRORS)
    app.include_router(documents.alias_router, responses=V1_ERRORS)
    complete_openapi(app)
    mount_console(app)
    app.add_middleware(ObserveRequests)
    install_error_handlers(app)
    # Added last, so it runs first: an oversized body is refused before anything reads it.
    app.add_middleware(
        BodySizeLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    return app


app = create_app()
