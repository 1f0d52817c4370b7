"""The error answers of the API, declared for its OpenAPI document: every route lists what it may answer.

Errors are `{"detail": "..."}` (`sie_api.errors` answers them, each with its class's status from
`sie.core.errors`); a 422 is FastAPI's list of field errors, or one sentence when the fault is not in a
single field. `Retry-After` comes with every 429 and 503.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sie.core.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from sie.core.schemas import ErrorResponse, ValidationErrorResponse

OpenApiResponses = dict[int | str, dict[str, Any]]


def error_response(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"model": ErrorResponse, "description": description}
    if retry_after:
        entry["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "required": True,
                "schema": {"type": "integer"},
            }
        }
    return entry


# What every /v1 route may answer besides its own results.
V1_ERRORS: OpenApiResponses = {
    Unauthorized.status_code: error_response("No X-API-Key header, or an unknown or revoked key"),
    Forbidden.status_code: error_response("The key lacks the scope this route needs"),
    InvalidRequest.status_code: {
        "model": ValidationErrorResponse,
        "description": "The request is malformed; the fields are named",
    },
    ServiceUnavailable.status_code: error_response(
        "A dependency (database, Redis, search) is down", retry_after=True
    ),
}
NOT_FOUND: OpenApiResponses = {NotFound.status_code: error_response("No such object for this key's tenant")}
CONFLICT: OpenApiResponses = {
    Conflict.status_code: error_response("The request conflicts with the current state")
}
TOO_LARGE: OpenApiResponses = {
    PayloadTooLarge.status_code: error_response("The request body is over the configured limit")
}
RATE_LIMITED: OpenApiResponses = {
    RateLimited.status_code: error_response(
        "The key's rate limit for this priority is used up", retry_after=True
    )
}
UNSUPPORTED_MEDIA: OpenApiResponses = {
    UnsupportedMediaType.status_code: error_response("The uploaded file is of a type SIE cannot read")
}


# OpenAPI links: what a creating route's answer lets a client (or a stateful fuzzer) call next.
def operation_ref(path: str, method: str) -> str:
    """`#/paths/~1v1~1jobs~1%7Bjob_id%7D/get`: a JSON pointer (RFC 6901) in a URI fragment."""
    return "#/paths/" + quote(path.replace("~", "~0").replace("/", "~1"), safe="~") + "/" + method


def link(path: str, method: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationRef": operation_ref(path, method), "parameters": parameters, "description": description}


def links(status: int, **named: dict[str, Any]) -> OpenApiResponses:
    return {status: {"links": named}}


ACCEPTED_LINKS: OpenApiResponses = links(
    202,
    GetJob=link(
        "/v1/jobs/{job_id}", "get", "The job that reads the document", job_id="$response.body#/job_id"
    ),
    GetDocument=link(
        "/v1/documents/{document_id}",
        "get",
        "The document, enriched once its job is done",
        document_id="$response.body#/document_id",
    ),
    DeleteDocument=link(
        "/v1/documents/{document_id}",
        "delete",
        "Delete the document (from search and the insights too)",
        document_id="$response.body#/document_id",
    ),
)


def _source_links() -> dict[str, dict[str, Any]]:
    """The routes of the source a create or an upsert answered with; the tenant too, for a system key."""
    path = "/v1/sources/{name}"
    named = {"name": "$response.body#/name", "tenant": "$response.body#/tenant"}
    return {
        "GetSource": link(path, "get", "Read the source", **named),
        "PatchSource": link(path, "patch", "Change some of its fields", **named),
        "PutSource": link(path, "put", "Replace its spec", name="$response.body#/name"),
        "SyncSource": link(f"{path}/sync", "post", "Poll it now", **named),
        "DeleteSource": link(path, "delete", "Delete it", **named),
    }


SOURCE_LINKS = _source_links()
