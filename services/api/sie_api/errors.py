"""Errors into answers: one handler for SIE's error tree, and the framework's own refusals made alike.

Every domain error answers `{"detail": <its public detail>}` with its own status and headers
(`Retry-After` for 429 and 503). Routes never translate errors: they raise from the tree, or let the
repository's, the database's (`sie.core.db.database_errors`) and the engine's errors pass.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Match

from sie.core import metrics
from sie.core.errors import PayloadTooLarge, ServiceUnavailable, SieError
from sie.core.logging import get_logger

log = get_logger(__name__)
# FastAPI reports these only as "There was an error parsing the body"; the cause says more.
UNPARSEABLE_BODY_REASONS: dict[type[BaseException], str] = {
    UnicodeDecodeError: "the JSON body is not valid UTF-8",
    RecursionError: "the JSON body nests too deeply",
}


def error_response(error: SieError) -> JSONResponse:
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)


def _metric_kind(error: SieError) -> str:
    return f"{error.service}_unavailable" if isinstance(error, ServiceUnavailable) else error.kind


async def sie_error(_: Request, exc: SieError) -> JSONResponse:
    """The one mapping of SIE's errors to answers; a server-side failure is counted and logged."""
    if exc.status_code >= 500:
        metrics.count_error(_metric_kind(exc))
        log.warning("request_failed", kind=exc.kind, status=exc.status_code, error=str(exc))
    return error_response(exc)


# curl's `-d` sends `application/x-www-form-urlencoded`, so the handbook's kind of command line
# (`curl -H "X-API-Key: …" -d '{"text": …}' …/ingest`) reaches a JSON route with a body it never reads.
JSON_BODY_HINT = {
    "type": "content_type",
    "loc": ["header", "Content-Type"],
    "msg": "send the body as JSON with `Content-Type: application/json` "
    "(curl: -H 'Content-Type: application/json' -d '{\"text\": \"...\"}')",
}


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The fields at fault, without the values sent: an echo may carry a secret or megabytes of
    # text, and a value JSON cannot encode (NaN, an unpaired surrogate) turned the 422 into a 500.
    errors = [{key: value for key, value in error.items() if key != "input"} for error in exc.errors()]
    if _json_sent_as_another_type(request, errors):
        errors.append(JSON_BODY_HINT)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def _json_sent_as_another_type(request: Request, errors: list[dict[str, Any]]) -> bool:
    """A JSON route's whole body refused as not an object, and the request did not say it was JSON."""
    content_type = request.headers.get("content-type", "")
    whole_body_refused = any(tuple(error["loc"]) == ("body",) for error in errors)
    return whole_body_refused and "json" not in content_type and not content_type.startswith("multipart/")


async def unreadable_body(request: Request, exc: HTTPException) -> Response:
    # SIE itself never answers 400: Starlette and FastAPI do, for a body they cannot parse (bytes
    # that are not UTF-8, JSON nested deeper than the parser goes, broken multipart). A malformed
    # request is a 422 here, like every other.
    if exc.status_code == 405:
        return method_not_allowed(request)
    if exc.status_code != 400:
        return await http_exception_handler(request, exc)
    if too_large := _payload_too_large(exc.__cause__):
        return error_response(too_large)
    reason = UNPARSEABLE_BODY_REASONS.get(type(exc.__cause__), str(exc.detail))
    return JSONResponse({"detail": [{"type": "body_invalid", "loc": ["body"], "msg": reason}]}, 422)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette's own `Allow` names only the first route
    it tried (`GET` where `PUT`, `PATCH` and `DELETE` are there too)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def method_not_allowed(request: Request) -> Response:
    """405 with a true `Allow`; an OPTIONS request is answered with that `Allow` itself."""
    methods = allowed_methods(request)
    allow = ", ".join(sorted([*methods, "OPTIONS"]))
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    detail = f"{request.method} is not allowed on {request.url.path}; it takes {', '.join(methods)}"
    return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": allow})


def _payload_too_large(cause: BaseException | None) -> PayloadTooLarge | None:
    """The body limit's error, which reaches FastAPI's body parsing inside an ExceptionGroup (the
    request middleware's task group) that FastAPI answers with a 400."""
    while isinstance(cause, BaseExceptionGroup):
        cause = next(
            (inner for inner in cause.exceptions if isinstance(inner, PayloadTooLarge | BaseExceptionGroup)),
            None,
        )
    return cause if isinstance(cause, PayloadTooLarge) else None


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(SieError)(sie_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(HTTPException)(unreadable_body)
