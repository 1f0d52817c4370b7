"""The API contract: accepted documents, every error code, idempotency, rate limits, tenant isolation."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.models import Document, DocumentBlob, Job
from sie.core.queues import QUEUE_HIGH, QUEUE_LOW, QUEUE_NORMAL, QUEUE_OCR
from tests.utils.api import make_key
from tests.utils.files import make_text_pdf


def test_health_names_every_check(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "ok", "search": "ok"}
    assert body["search_backend"] == "database"


def test_metrics_exposition(client: TestClient) -> None:
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "sie_http_request_duration_seconds_bucket" in response.text
    assert 'route="/health"' in response.text


def test_push_text_creates_document_and_job_in_the_priority_queue(client: TestClient, redis_client) -> None:
    key = make_key()
    before = redis_client.llen(QUEUE_HIGH)
    response = client.post(
        "/v1/documents",
        json={"text": "Ada Lovelace wrote the first program.", "priority": "high", "metadata": {"k": 1}},
        headers=key.headers,
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    # Sent jobs are stamped in batches, a fraction of a second later (sie.core.engine.outbox.LATER).
    assert _stamped_within(uuid.UUID(body["job_id"]), seconds=5)
    with session_scope() as session:
        job = session.get(Job, uuid.UUID(body["job_id"]))
        assert job is not None and job.queue == QUEUE_HIGH
        document = session.get(Document, uuid.UUID(body["document_id"]))
        assert document is not None and document.tenant == key.tenant and document.meta == {"k": 1}
    assert redis_client.llen(QUEUE_HIGH) == before + 1

    job_view = client.get(f"/v1/jobs/{body['job_id']}", headers=key.headers).json()
    assert job_view["status"] == "pending" and job_view["attempts"] == 0
    assert job_view["document_id"] == body["document_id"]


def _stamped_within(job_id: uuid.UUID, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with session_scope() as session:
            if session.scalar(select(Job.enqueued_at).where(Job.id == job_id)) is not None:
                return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("priority", "queue"), [("low", QUEUE_LOW), ("normal", QUEUE_NORMAL), ("high", QUEUE_HIGH)]
)
def test_priority_selects_queue(client: TestClient, priority: str, queue: str) -> None:
    key = make_key()
    body = client.post(
        "/v1/documents", json={"url": "http://127.0.0.1:9/x", "priority": priority}, headers=key.headers
    ).json()
    with session_scope() as session:
        assert session.get(Job, uuid.UUID(body["job_id"])).queue == queue  # type: ignore[union-attr]


def test_identical_text_is_deduplicated_per_tenant(client: TestClient) -> None:
    first_key, other_tenant = make_key(), make_key()
    text = f"Identical content {uuid.uuid4()} about Paris."
    first = client.post("/v1/documents", json={"text": text}, headers=first_key.headers).json()
    again = client.post("/v1/documents", json={"text": "  " + text + "\n"}, headers=first_key.headers).json()
    assert again["document_id"] == first["document_id"] and again["duplicate"] is True
    elsewhere = client.post("/v1/documents", json={"text": text}, headers=other_tenant.headers).json()
    assert elsewhere["document_id"] != first["document_id"]


def test_idempotency_key_replays_and_conflicts(client: TestClient) -> None:
    key = make_key()
    headers = {**key.headers, "Idempotency-Key": f"req-{uuid.uuid4()}"}
    first = client.post("/v1/documents", json={"text": f"first body {uuid.uuid4()}"}, headers=headers)
    body = first.request.content
    replay = client.post(
        "/v1/documents", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert replay.status_code == 202 and replay.json()["job_id"] == first.json()["job_id"]
    conflict = client.post("/v1/documents", json={"text": "a different body"}, headers=headers)
    assert conflict.status_code == 409
    with session_scope() as session:
        jobs = session.scalars(select(Job).where(Job.tenant == key.tenant)).all()
    assert len(jobs) == 1


def test_batch_accepts_one_entry_per_document(client: TestClient) -> None:
    key = make_key()
    documents = [{"text": f"Batch document {i} {uuid.uuid4()}"} for i in range(40)]
    response = client.post("/v1/documents/batch", json={"documents": documents}, headers=key.headers)
    assert response.status_code == 202
    results = response.json()["results"]
    assert len(results) == 40 and len({r["document_id"] for r in results}) == 40


def test_upload_text_pdf_and_image(client: TestClient) -> None:
    key = make_key()
    text_upload = client.post(
        "/v1/documents/upload",
        files={"file": ("notes.bin", b"Plain words about Berlin.", "x/y")},
        headers=key.headers,
    )
    assert text_upload.status_code == 202
    pdf_upload = client.post(
        "/v1/documents/upload",
        files={"file": ("report", make_text_pdf(["Quarterly report"]), "")},
        headers=key.headers,
    )
    assert pdf_upload.status_code == 202
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    image_upload = client.post("/v1/documents/upload", files={"file": ("scan.png", png)}, headers=key.headers)
    assert image_upload.status_code == 202
    with session_scope() as session:
        image_job = session.get(Job, uuid.UUID(image_upload.json()["job_id"]))
        assert image_job is not None and image_job.queue == QUEUE_OCR
        pdf_blob = session.get(DocumentBlob, uuid.UUID(pdf_upload.json()["document_id"]))
        assert pdf_blob is not None and pdf_blob.content_type == "application/pdf"


# --- every error code -------------------------------------------------------------------------


def test_401_without_or_with_a_bad_key(client: TestClient) -> None:
    assert client.post("/v1/documents", json={"text": "x"}).status_code == 401
    forged = "sie_AAAAAAAAAAAA_" + "b" * 43
    assert client.get("/v1/jobs/" + str(uuid.uuid4()), headers={"X-API-Key": forged}).status_code == 401
    assert client.get("/v1/search", headers={"X-API-Key": "garbage"}).status_code == 401


def test_revoked_key_is_refused(client: TestClient) -> None:
    from sie.core.security import revoke_api_key

    key = make_key()
    assert client.get("/v1/search", headers=key.headers).status_code == 200
    with session_scope() as session:
        assert revoke_api_key(session, key.key_id)
    assert client.get("/v1/search", headers=key.headers).status_code == 401


def test_403_when_scope_missing(client: TestClient) -> None:
    reader = make_key(scopes=("read",))
    assert client.post("/v1/documents", json={"text": "x"}, headers=reader.headers).status_code == 403
    assert client.get("/v1/dead-letters", headers=reader.headers).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "a", "url": "http://example.test/"}, "body"),
        ({}, "body"),
        ({"text": "x", "priority": "urgent"}, "priority"),
        ({"url": "not a url"}, "url"),
        ({"text": "x", "titel": "typo"}, "titel"),
        ({"text": "   "}, "text"),
        ({"text": "x", "metadata": "not-an-object"}, "metadata"),
    ],
)
def test_422_names_the_field(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/v1/documents", json=body, headers=make_key().headers)
    assert response.status_code == 422
    assert any(field in [str(part) for part in error["loc"]] for error in response.json()["detail"])


def test_422_on_malformed_json(client: TestClient) -> None:
    response = client.post(
        "/v1/documents",
        content=b'{"text": "unterminated',
        headers={**make_key().headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_413_body_over_limit(client: TestClient) -> None:
    oversized = b'{"text": "' + b"a" * (settings.max_body_bytes + 10) + b'"}'
    response = client.post(
        "/v1/documents", content=oversized, headers={**make_key().headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_413_batch_over_document_limit(client: TestClient) -> None:
    documents = [{"text": f"doc {i}"} for i in range(settings.max_batch_documents + 1)]
    response = client.post("/v1/documents/batch", json={"documents": documents}, headers=make_key().headers)
    assert response.status_code == 413


def test_415_unsupported_upload(client: TestClient) -> None:
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(range(0, 32)) * 20
    response = client.post(
        "/v1/documents/upload", files={"file": ("notes.txt", elf)}, headers=make_key().headers
    )
    assert response.status_code == 415


def test_empty_upload_is_422(client: TestClient) -> None:
    response = client.post("/v1/documents/upload", files={"file": ("e.txt", b"")}, headers=make_key().headers)
    assert response.status_code == 422


def test_429_with_retry_after_per_priority(client: TestClient, redis_client) -> None:
    key = make_key(rate_limits=None)  # the handbook's defaults: low 10/min, normal 30/min, high 60/min
    for i in range(10):
        ok = client.post(
            "/v1/documents", json={"text": f"low {i} {uuid.uuid4()}", "priority": "low"}, headers=key.headers
        )
        assert ok.status_code == 202
    refused = client.post(
        "/v1/documents", json={"text": "one too many", "priority": "low"}, headers=key.headers
    )
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert redis_client.get(f"rate_limit:{key.key_id}:low") == "10"
    # Other priorities have their own windows.
    assert (
        client.post("/v1/documents", json={"text": f"n {uuid.uuid4()}"}, headers=key.headers).status_code
        == 202
    )


def test_batch_is_charged_per_document(client: TestClient) -> None:
    key = make_key(rate_limits=None)
    documents = [{"text": f"doc {i} {uuid.uuid4()}"} for i in range(31)]
    response = client.post("/v1/documents/batch", json={"documents": documents}, headers=key.headers)
    assert response.status_code == 429
    assert (
        client.post(
            "/v1/documents/batch", json={"documents": documents[:30]}, headers=key.headers
        ).status_code
        == 202
    )


def test_per_key_override_raises_the_limit(client: TestClient) -> None:
    key = make_key(rate_limits={"normal": {"requests": 200, "period": 60}})
    documents = [{"text": f"doc {i} {uuid.uuid4()}"} for i in range(150)]
    assert (
        client.post("/v1/documents/batch", json={"documents": documents}, headers=key.headers).status_code
        == 202
    )


# --- tenants ------------------------------------------------------------------------------------


def test_other_tenants_see_404(client: TestClient) -> None:
    owner, stranger = make_key(), make_key()
    body = client.post(
        "/v1/documents", json={"text": f"secret plans {uuid.uuid4()}"}, headers=owner.headers
    ).json()
    assert client.get(f"/v1/documents/{body['document_id']}", headers=owner.headers).status_code == 200
    assert client.get(f"/v1/documents/{body['document_id']}", headers=stranger.headers).status_code == 404
    assert client.get(f"/v1/jobs/{body['job_id']}", headers=stranger.headers).status_code == 404


def test_unknown_ids_are_404_and_bad_ids_422(client: TestClient) -> None:
    key = make_key()
    assert client.get(f"/v1/documents/{uuid.uuid4()}", headers=key.headers).status_code == 404
    assert client.get("/v1/jobs/not-a-uuid", headers=key.headers).status_code == 422


def test_batch_with_repeated_content_stores_it_once(client: TestClient) -> None:
    key = make_key()
    text = f"Repeated inside one batch {uuid.uuid4()}"
    documents = [{"text": text}, {"text": f"other {uuid.uuid4()}"}, {"text": text + "  "}]
    results = client.post("/v1/documents/batch", json={"documents": documents}, headers=key.headers).json()[
        "results"
    ]
    assert results[0]["document_id"] == results[2]["document_id"] and results[2]["duplicate"] is True
    with session_scope() as session:
        stored = session.scalars(select(Document).where(Document.tenant == key.tenant)).all()
    assert len(stored) == 2
