"""The FastAPI application: routers, body-size limit, request metrics, and error mapping.

`uvicorn sie_api.main:app` (or `sie serve`) runs it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import sie
from sie.core import metrics
from sie.core.config import settings
from sie.core.engine.relay import start_relay_thread
from sie.core.errors import ServiceUnavailable
from sie.core.logging import configure_logging, get_logger
from sie.core.observability import init_sentry
from sie.core.search import get_search_backend
from sie_api.deps import get_queue
from sie_api.responses import V1_ERRORS
from sie_api.routes import dead_letters, documents, health, insights, jobs, search, sources

log = get_logger(__name__)
RETRY_AFTER_SECONDS = "5"
# FastAPI reports these only as "There was an error parsing the body"; the cause says more.
UNPARSEABLE_BODY_REASONS: dict[type[BaseException], str] = {
    UnicodeDecodeError: "the JSON body is not valid UTF-8",
    RecursionError: "the JSON body nests too deeply",
}


class BodyTooLarge(HTTPException):
    """Raised while a body is read: by the time it reaches FastAPI's body parsing it is wrapped in an
    ExceptionGroup (the request middleware's task group), which FastAPI answers with a 400; the 400
    handler below finds it there and answers 413 instead."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class BodySizeLimit:
    """413 for bodies over the limit, whether announced by Content-Length or streamed in chunks."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (
            self.max_upload_bytes + 64 * 1024 if scope["path"].endswith("/upload") else self.max_body_bytes
        )
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, BodyTooLarge(limit))
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge as too_large:
            await _too_large(send, too_large)


def _body_too_large(cause: BaseException | None) -> BodyTooLarge | None:
    while isinstance(cause, BaseExceptionGroup):
        cause = next(
            (inner for inner in cause.exceptions if isinstance(inner, BodyTooLarge | BaseExceptionGroup)),
            None,
        )
    return cause if isinstance(cause, BodyTooLarge) else None


async def _too_large(send: Send, error: BodyTooLarge) -> None:
    response = JSONResponse({"detail": error.detail}, status_code=error.status_code)
    await response({"type": "http"}, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}


def _route_template(request: Request) -> str:
    """The route's path template (`/v1/jobs/{job_id}`): a bounded metric label, never the raw path."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure_logging(settings.log_level)
    init_sentry("api")
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

    @app.middleware("http")
    async def observe_requests(request: Request, call_next: Any) -> Any:
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
            if route not in ("/metrics", "/health", "/livez"):
                log.info(
                    "http_request",
                    method=request.method,
                    route=route,
                    status=status_code,
                    duration_ms=round(elapsed * 1000, 2),
                )

    @app.exception_handler(ServiceUnavailable)
    async def service_unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        metrics.ERRORS.labels(component="api", kind=f"{exc.service}_unavailable").inc()
        return JSONResponse(
            {"detail": f"{exc.service} is temporarily unavailable; retry later"},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    # Every connection busy for the pool timeout: the server is overloaded, a 503, not a 500.
    @app.exception_handler(PoolTimeoutError)
    async def database_overloaded(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        return await service_unavailable(request, ServiceUnavailable("database", "connection pool exhausted"))

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        return await service_unavailable(request, ServiceUnavailable("database"))

    @app.exception_handler(redis.RedisError)
    async def redis_unavailable(request: Request, exc: redis.RedisError) -> JSONResponse:
        return await service_unavailable(request, ServiceUnavailable("redis"))

    # A value the database cannot store (a NUL character, an unpaired surrogate, NaN in JSON) that
    # request validation did not catch is still the client's error, not the server's.
    @app.exception_handler(DataError)
    async def unstorable_value(_: Request, exc: DataError) -> JSONResponse:
        reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return JSONResponse({"detail": f"the request holds a value that cannot be stored: {reason}"}, 422)

    @app.exception_handler(UnicodeEncodeError)
    async def unencodable_text(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the request holds text that is not valid Unicode: {exc.reason}"}, 422
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The fields at fault, without the values sent: an echo may carry a secret or megabytes of
        # text, and a value JSON cannot encode (NaN, an unpaired surrogate) turned the 422 into a 500.
        errors = [{key: value for key, value in error.items() if key != "input"} for error in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def unreadable_body(request: Request, exc: HTTPException) -> Response:
        # SIE itself never answers 400: Starlette and FastAPI do, for a body they cannot parse (bytes
        # that are not UTF-8, JSON nested deeper than the parser goes, broken multipart). A malformed
        # request is a 422 here, like every other.
        if exc.status_code == 400 and (too_large := _body_too_large(exc.__cause__)):
            return await http_exception_handler(request, too_large)
        if exc.status_code == 400:
            reason = UNPARSEABLE_BODY_REASONS.get(type(exc.__cause__), str(exc.detail))
            return JSONResponse({"detail": [{"type": "body_invalid", "loc": ["body"], "msg": reason}]}, 422)
        return await http_exception_handler(request, exc)

    # Added last, so it runs first: an oversized body is refused before anything reads it.
    app.add_middleware(
        BodySizeLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    return app


app = create_app()
