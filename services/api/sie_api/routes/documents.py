"""Documents: push text or URLs (one or a batch), upload files, read an enriched document."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, UploadFile, status
from sqlalchemy.orm import Session

from sie.core.config import settings
from sie.core.engine.ingest import NewDocument, add_documents
from sie.core.engine.outbox import Submission, enqueue_new
from sie.core.errors import PayloadTooLarge
from sie.core.pipeline.uploads import plan_upload
from sie.core.queues import JobQueue
from sie.core.repository.documents import document_public, get_tenant_document
from sie.core.repository.idempotency import create_once, request_fingerprint
from sie.core.schemas import (
    Accepted,
    BatchAccepted,
    BatchCreate,
    DocumentCreate,
    DocumentPublic,
    OcrStrategyName,
    PriorityName,
)
from sie_api.deps import (
    IngestPrincipal,
    QueueDep,
    RateLimiterDep,
    ReadPrincipal,
    SessionDep,
    charge_rate_limit,
)
from sie_api.responses import CONFLICT, NOT_FOUND, RATE_LIMITED, TOO_LARGE, UNSUPPORTED_MEDIA

router = APIRouter(prefix="/v1/documents", tags=["documents"])

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


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={**CONFLICT, **TOO_LARGE, **RATE_LIMITED},
)
def create_document(
    body: DocumentCreate,
    principal: IngestPrincipal,
    session: SessionDep,
    queue: QueueDep,
    limiter: RateLimiterDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    charge_rate_limit(limiter, principal, body.priority)
    return _accept_once(
        session=session,
        queue=queue,
        tenant=principal.tenant,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint("document", body.model_dump(mode="json")),
        documents=[_new_document(body)],
        respond=lambda submissions: submissions[0].as_response(),
    )


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchAccepted,
    responses={**CONFLICT, **TOO_LARGE, **RATE_LIMITED},
)
def create_documents_batch(
    body: BatchCreate,
    principal: IngestPrincipal,
    session: SessionDep,
    queue: QueueDep,
    limiter: RateLimiterDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
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

    return _accept_once(
        session=session,
        queue=queue,
        tenant=principal.tenant,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint("batch", body.model_dump(mode="json")),
        documents=[_new_document(document) for document in body.documents],
        respond=_batch_response,
    )


def _batch_response(submissions: list[Submission]) -> dict[str, Any]:
    results = [submission.as_response() for submission in submissions]
    return {"results": results, "count": len(results)}


def _accept_once(
    *,
    session: Session,
    queue: JobQueue,
    tenant: str,
    idempotency_key: str | None,
    fingerprint: str,
    documents: list[NewDocument],
    respond: Callable[[list[Submission]], dict[str, Any]],
) -> dict[str, Any]:
    """Store the documents (once per Idempotency-Key), then enqueue what was new after the commit."""

    def create() -> tuple[list[Submission], dict[str, Any]]:
        submissions = add_documents(session, tenant=tenant, documents=documents)
        return submissions, respond(submissions)

    submissions, response = create_once(
        session=session, tenant=tenant, key=idempotency_key, fingerprint=fingerprint, create=create
    )
    enqueue_new(queue, submissions)
    return response


@router.post(
    "/upload",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={**TOO_LARGE, **UNSUPPORTED_MEDIA, **RATE_LIMITED},
)
async def upload_document(
    principal: IngestPrincipal,
    session: SessionDep,
    queue: QueueDep,
    limiter: RateLimiterDep,
    file: Annotated[UploadFile, File(description="A .txt, .html, .pdf or image file")],
    title: Annotated[str | None, Form(max_length=1000)] = None,
    source: Annotated[str, Form(min_length=1, max_length=200, pattern=r"^[\w.:/@-]+$")] = "upload",
    priority: Annotated[PriorityName, Form()] = "normal",
    ocr_strategy: Annotated[OcrStrategyName, Form()] = "auto",
) -> dict[str, Any]:
    charge_rate_limit(limiter, principal, priority)
    # One byte over the limit is enough to know the file is too large.
    data = await file.read(settings.max_upload_bytes + 1)
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
    submissions = add_documents(session, tenant=principal.tenant, documents=[new])
    session.commit()
    enqueue_new(queue, submissions)
    return submissions[0].as_response()


@router.get("/{document_id}", response_model=DocumentPublic, responses=NOT_FOUND)
def read_document(document_id: uuid.UUID, principal: ReadPrincipal, session: SessionDep) -> DocumentPublic:
    return document_public(
        get_tenant_document(session=session, tenant=principal.tenant, document_id=document_id)
    )
