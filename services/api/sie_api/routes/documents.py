"""Documents: push text or URLs (one or a batch), upload files, read an enriched document.

Accepting is `sie.core.engine.ingest.accept`. The accept routes check the key, its scope and the rate
limit themselves, on the one thread that also stores and enqueues (`sie_api.deps.on_accept_thread`):
the database and Redis are never called from the event loop.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, File, Form, Header, Response, UploadFile, status
from pydantic import BaseModel

from sie.core.config import settings
from sie.core.engine.ingest import Idempotency, NewDocument, accept
from sie.core.engine.outbox import Submission
from sie.core.errors import NotFound, PayloadTooLarge
from sie.core.pipeline.uploads import plan_upload
from sie.core.repository.documents import document_public, get_tenant_document
from sie.core.repository.idempotency import request_fingerprint
from sie.core.repository.removal import remove_documents
from sie.core.schemas import (
    WITHOUT_NUL,
    Accepted,
    BatchAccepted,
    BatchCreate,
    DocumentCreate,
    DocumentPublic,
    OcrStrategyName,
    PriorityName,
)
from sie.core.search import get_search_backend
from sie.core.security import Principal
from sie_api.deps import (
    PresentedKey,
    QueueDep,
    RateLimiterDep,
    ReadPrincipal,
    SessionDep,
    authenticate,
    charge_rate_limit,
    on_accept_thread,
    require,
)
from sie_api.responses import (
    ACCEPTED_LINKS,
    CONFLICT,
    NOT_FOUND,
    RATE_LIMITED,
    TOO_LARGE,
    UNSUPPORTED_MEDIA,
)

router = APIRouter(prefix="/v1/documents", tags=["documents"])
# `POST /ingest`: the handbook's name (§8.1) for `POST /v1/documents`, served by the same handler.
alias_router = APIRouter(tags=["documents"])
ACCEPT_ONE: dict[str, Any] = {
    "status_code": status.HTTP_202_ACCEPTED,
    "response_model": Accepted,
    "responses": {**CONFLICT, **TOO_LARGE, **RATE_LIMITED, **ACCEPTED_LINKS},
}


def form_choice(names: Any) -> Any:
    """A form field of fixed choices; sent empty it takes its default (FastAPI reads "" as not sent),
    so the schema lists "" too."""
    return Form(json_schema_extra={"enum": [*get_args(names), ""]})


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _new_document(body: DocumentCreate) -> NewDocument:
    return NewDocument(
        text=body.text,
        url=str(body.url) if body.url is not None else None,
        title=body.title,
        source=body.source,
        priority=body.priority,
        metadata=body.metadata,
        external_id=body.external_id,
        ocr_strategy=body.ocr_strategy,
    )


def _idempotency(key: str | None, route: str, body: BaseModel) -> Idempotency | None:
    # The fingerprint (a dump and a hash of the whole body) only for a request that needs one.
    return Idempotency(key, request_fingerprint(route, body.model_dump(mode="json"))) if key else None


def _first_response(submissions: list[Submission]) -> dict[str, Any]:
    return submissions[0].as_response()


@alias_router.post(
    "/ingest",
    **ACCEPT_ONE,
    summary="Create Document (alias of POST /v1/documents)",
    description="The handbook's name for `POST /v1/documents`: the same body, rules and answers.",
    operation_id="ingest_alias_of_create_document",
    openapi_extra={"x-alias-of": "POST /v1/documents"},
)
@router.post("", **ACCEPT_ONE)
async def create_document(
    body: DocumentCreate,
    api_key: PresentedKey,
    queue: QueueDep,
    limiter: RateLimiterDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        principal = authenticate(api_key, "ingest")
        charge_rate_limit(limiter, principal, body.priority)
        return accept(
            queue,
            tenant=principal.tenant,
            documents=[_new_document(body)],
            respond=_first_response,
            idempotency=_idempotency(idempotency_key, "document", body),
        )

    return await on_accept_thread(work)


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchAccepted,
    responses={**CONFLICT, **TOO_LARGE, **RATE_LIMITED},
)
async def create_documents_batch(
    body: BatchCreate,
    api_key: PresentedKey,
    queue: QueueDep,
    limiter: RateLimiterDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        principal = authenticate(api_key, "ingest")
        if len(body.documents) > settings.max_batch_documents:
            raise PayloadTooLarge(
                f"a batch holds at most {settings.max_batch_documents} documents, got {len(body.documents)}"
            )
        # Fair counting: each document is charged to its own priority's window.
        cost: dict[str, int] = {}
        for document in body.documents:
            cost[document.priority] = cost.get(document.priority, 0) + 1
        for priority, count in cost.items():
            charge_rate_limit(limiter, principal, priority, count)
        return accept(
            queue,
            tenant=principal.tenant,
            documents=[_new_document(document) for document in body.documents],
            respond=_batch_response,
            idempotency=_idempotency(idempotency_key, "batch", body),
        )

    return await on_accept_thread(work)


def _batch_response(submissions: list[Submission]) -> dict[str, Any]:
    results = [submission.as_response() for submission in submissions]
    return {"results": results, "count": len(results)}


@router.post(
    "/upload",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={**TOO_LARGE, **UNSUPPORTED_MEDIA, **RATE_LIMITED, **ACCEPTED_LINKS},
)
async def upload_document(
    api_key: PresentedKey,
    queue: QueueDep,
    limiter: RateLimiterDep,
    # An empty file is refused (422): the schema says so with `minLength`.
    file: Annotated[
        UploadFile, File(description="A .txt, .html, .pdf or image file", json_schema_extra={"minLength": 1})
    ],
    title: Annotated[str | None, Form(max_length=1000, pattern=WITHOUT_NUL)] = None,
    source: Annotated[str, Form(max_length=200, pattern=r"^[\w.:/@-]*$")] = "upload",
    priority: Annotated[PriorityName, form_choice(PriorityName)] = "normal",
    ocr_strategy: Annotated[OcrStrategyName, form_choice(OcrStrategyName)] = "auto",
) -> dict[str, Any]:
    # One byte over the limit is enough to know the file is too large.
    data = await file.read(settings.max_upload_bytes + 1)

    def work() -> dict[str, Any]:
        principal = authenticate(api_key, "ingest")
        charge_rate_limit(limiter, principal, priority)
        plan = plan_upload(
            data, filename=file.filename, ocr_strategy=ocr_strategy, max_bytes=settings.max_upload_bytes
        )
        new = NewDocument(
            data=data,
            filename=plan.filename,
            content_type=plan.content_type,
            kind=plan.kind,
            title=title,
            source=source,
            priority=priority,
            ocr_strategy=ocr_strategy,
        )
        return accept(queue, tenant=principal.tenant, documents=[new], respond=_first_response)

    return await on_accept_thread(work)


# `:uuid`: `/v1/documents/upload` and `/batch` are not ids, so a GET there is a 405 (POST only), not a
# 422 for a malformed id.
@router.get("/{document_id:uuid}", response_model=DocumentPublic, responses=NOT_FOUND)
def read_document(document_id: uuid.UUID, principal: ReadPrincipal, session: SessionDep) -> DocumentPublic:
    return document_public(
        get_tenant_document(session=session, tenant=principal.tenant, document_id=document_id)
    )


# Deleting a document is a document write: the scope that pushes them.
IngestPrincipal = Annotated[Principal, Depends(require("ingest"))]


@router.delete("/{document_id:uuid}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
def delete_document(document_id: uuid.UUID, principal: IngestPrincipal, session: SessionDep) -> Response:
    """Delete the document with its jobs, dead letters and entities; the insights stop counting it at
    once (the same transaction), and search finds it no more (removed from the index after that)."""
    get_tenant_document(session=session, tenant=principal.tenant, document_id=document_id)
    if not remove_documents(session=session, ids=[document_id]):
        raise NotFound("document not found")  # deleted by a concurrent request meanwhile
    session.commit()
    get_search_backend().delete_documents([str(document_id)])
    return Response(status_code=status.HTTP_204_NO_CONTENT)
