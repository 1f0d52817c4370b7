"""Errors into answers: one handler for SIE's error tree, and the framework's own refusals made alike.

Every domain error answers `{"detail": <its public detail>}` with its own status and headers
(`Retry-After` for 429 and 503). Routes never translate errors: they raise from the tree, or let the
repository's, the database's (`sie.core.db.database_errors`) and the engine's errors pass.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

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


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    # The fields at fault, without the values sent: an echo may carry a secret or megabytes of
    # text, and a value JSON cannot encode (NaN, an unpaired surrogate) turned the 422 into a 500.
    errors = [{key: value for key, value in error.items() if key != "input"} for error in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


async def unreadable_body(request: Request, exc: HTTPException) -> Response:
    # SIE itself never answers 400: Starlette and FastAPI do, for a body they cannot parse (bytes
    # that are not UTF-8, JSON nested deeper than the parser goes, broken multipart). A malformed
    # request is a 422 here, like every other.
    if exc.status_code != 400:
        return await http_exception_handler(request, exc)
    if too_large := _payload_too_large(exc.__cause__):
        return error_response(too_large)
    reason = UNPARSEABLE_BODY_REASONS.get(type(exc.__cause__), str(exc.detail))
    return JSONResponse({"detail": [{"type": "body_invalid", "loc": ["body"], "msg": reason}]}, 422)


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
