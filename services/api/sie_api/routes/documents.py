"""Documents: push text or URLs (one or a batch), upload files, read an enriched document."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, HTTPException, UploadFile, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sie.core.config import settings
from sie.core.engine.ingest import NewDocument, Submission, add_documents, enqueue_new
from sie.core.models import Document, IdempotencyRecord
from sie.core.pipeline.sniff import SUPPORTED_TYPES, is_image, sniff_content_type
from sie.core.schemas import (
    Accepted,
    BatchAccepted,
    BatchCreate,
    DocumentCreate,
    DocumentPublic,
    EntityPublic,
    OcrStrategyName,
    PriorityName,
    SentimentPublic,
)
from sie.core.security import Principal
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


def _accept_idempotently(
    session: Session,
    principal: Principal,
    key: str | None,
    request_fingerprint: str,
    create: Callable[[], tuple[list[Submission], dict[str, Any]]],
) -> tuple[list[Submission], dict[str, Any]]:
    """Run `create` once per Idempotency-Key: a replay with the same body returns the first answer."""
    if key is None:
        submissions, response = create()
        session.commit()
        return submissions, response
    scope_key = (principal.tenant, key)
    existing = session.get(IdempotencyRecord, scope_key)
    if existing is None:
        submissions, response = create()
        session.add(
            IdempotencyRecord(
                tenant=principal.tenant, key=key, request_hash=request_fingerprint, response=response
            )
        )
        try:
            session.commit()
            return submissions, response
        except IntegrityError:
            # A concurrent request with the same key won; answer as it did.
            session.rollback()
            existing = session.get(IdempotencyRecord, scope_key)
            if existing is None:
                raise
    if existing.request_hash != request_fingerprint:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Idempotency-Key was already used with a different body"
        )
    return [], existing.response


def _fingerprint(route: str, payload: Any) -> str:
    return hashlib.sha256(json.dumps([route, payload], sort_keys=True, default=str).encode()).hexdigest()


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

    def create() -> tuple[list[Submission], dict[str, Any]]:
        submissions = add_documents(session, tenant=principal.tenant, documents=[_new_document(body)])
        return submissions, submissions[0].as_response()

    submissions, response = _accept_idempotently(
        session, principal, idempotency_key, _fingerprint("document", body.model_dump(mode="json")), create
    )
    enqueue_new(queue, submissions)
    return response


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
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"a batch holds at most {settings.max_batch_documents} documents, got {len(body.documents)}",
        )
    # Fair counting: each document is charged to its own priority's window.
    cost: dict[str, int] = {}
    for document in body.documents:
        cost[document.priority] = cost.get(document.priority, 0) + 1
    for priority, count in cost.items():
        charge_rate_limit(limiter, principal, priority, count)

    def create() -> tuple[list[Submission], dict[str, Any]]:
        submissions = add_documents(
            session, tenant=principal.tenant, documents=[_new_document(d) for d in body.documents]
        )
        results = [submission.as_response() for submission in submissions]
        return submissions, {"results": results, "count": len(results)}

    submissions, response = _accept_idempotently(
        session, principal, idempotency_key, _fingerprint("batch", body.model_dump(mode="json")), create
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
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"file exceeds {settings.max_upload_bytes} bytes"
        )
    if not data:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "file: the uploaded file is empty")
    content_type = sniff_content_type(data)
    if content_type not in SUPPORTED_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "unsupported file type: send plain text, HTML, PDF or an image (PNG, JPEG, TIFF, WebP)",
        )
    if ocr_strategy == "no_ocr" and is_image(content_type):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "ocr_strategy: an image needs OCR")
    new = NewDocument(
        data=data,
        filename=(file.filename or "")[:500] or None,
        content_type=content_type,
        title=title,
        source=source,
        priority=priority,
        ocr_strategy=ocr_strategy,
        kind="ocr" if is_image(content_type) or ocr_strategy == "ocr_only" else "ingest",
    )
    submissions = add_documents(session, tenant=principal.tenant, documents=[new])
    session.commit()
    enqueue_new(queue, submissions)
    return submissions[0].as_response()


def document_public(document: Document) -> DocumentPublic:
    return DocumentPublic(
        id=str(document.id),
        status=document.status,
        title=document.title,
        url=document.url,
        source=document.source,
        external_id=document.external_id,
        content_type=document.content_type,
        text=document.text,
        language=document.language,
        content_hash=document.content_hash,
        duplicate_of=str(document.duplicate_of) if document.duplicate_of else None,
        entities=[EntityPublic(**entity) for entity in document.entities],
        keywords=list(document.keywords),
        sentiment=(
            SentimentPublic(compound=document.sentiment_compound, label=document.sentiment_label)  # type: ignore[arg-type]
            if document.sentiment_label is not None and document.sentiment_compound is not None
            else None
        ),
        extraction=document.extraction,
        metadata=document.meta,
        created_at=document.created_at,
        processed_at=document.processed_at,
        indexed=document.indexed_at is not None,
    )


def tenant_document(session: Session, tenant: str, document_id: uuid.UUID) -> Document:
    """The tenant's document, or 404: another tenant's document does not exist for the caller."""
    document = session.scalar(select(Document).where(Document.id == document_id, Document.tenant == tenant))
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "document not found")
    return document


@router.get("/{document_id}", response_model=DocumentPublic, responses=NOT_FOUND)
def read_document(document_id: uuid.UUID, principal: ReadPrincipal, session: SessionDep) -> DocumentPublic:
    return document_public(tenant_document(session, principal.tenant, document_id))
