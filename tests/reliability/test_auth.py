"""API keys: stored only as HMACs, compared in constant time, revocable at once, scoped on every route,
and no tenant reaches another tenant's objects through any route."""

from __future__ import annotations

import ast
import hashlib
import hmac
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bench.processes import REPO_ROOT
from sie.core import security
from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine.deadletter import record_dead_letter
from sie.core.models import DeadLetter, Job
from sie.core.security import DEFAULT_SCOPES
from tests.reliability.running import run_job
from tests.utils.api import make_key
from tests.worker.test_job_runner import RecordingQueue

SIE = str(Path(sys.executable).with_name("sie"))
KEY_PATTERN = re.compile(r"sie_[A-Za-z0-9]{12}_[A-Za-z0-9_-]+")


def sie_command(*args: str) -> str:
    completed = subprocess.run(
        [SIE, *args],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout


def test_a_key_is_stored_only_as_an_hmac_of_its_secret(client: TestClient) -> None:
    plain = KEY_PATTERN.search(sie_command("api-key", "create", "--tenant", f"t-{uuid.uuid4().hex[:8]}"))
    assert plain is not None
    key_id, secret = plain.group(0).split("_", 2)[1:]
    assert client.get("/v1/search", headers={"X-API-Key": plain.group(0)}).status_code == 200

    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    dump = subprocess.run(
        [pg_dump, "--data-only", os.environ["DATABASE_URL"]], capture_output=True, text=True, check=True
    ).stdout
    expected_hmac = hmac.new(settings.api_secret_key.encode(), secret.encode(), hashlib.sha256).hexdigest()
    assert key_id in dump and expected_hmac in dump
    assert secret not in dump and plain.group(0) not in dump


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(security.verify_api_key)))
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "hmac.compare_digest" in calls
    # No ==/!= ever touches a secret or its hash (that would stop at the first differing byte).
    compared = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Compare)]
    assert not [text for text in compared if re.search(r"secret|hash|candidate|expected", text)], compared

    comparisons: list[tuple[str, str]] = []
    real_compare = hmac.compare_digest

    def spy(left: str, right: str) -> bool:
        comparisons.append((left, right))
        return real_compare(left, right)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    key = make_key()
    with session_scope() as session:
        assert security.verify_api_key(session, key.plain) is not None
        assert security.verify_api_key(session, key.plain[:-2] + "xx") is None
        # An unknown key id costs the same work: an HMAC and a comparison against a random digest.
        assert security.verify_api_key(session, f"sie_{'Z' * 12}_{key.plain.split('_', 2)[2]}") is None
    assert len(comparisons) == 3 and all(len(left) == len(right) == 64 for left, right in comparisons)


def test_a_revoked_key_is_refused_at_once(client: TestClient) -> None:
    key = make_key()
    assert client.get("/v1/search", headers=key.headers).status_code == 200
    assert sie_command("api-key", "revoke", key.key_id).strip() == f"revoked {key.key_id}"
    response = client.get("/v1/search", headers=key.headers)
    assert response.status_code == 401 and response.json()["detail"] == "invalid or revoked API key"


# --- scopes ------------------------------------------------------------------------------------------

ANY_ID = "00000000-0000-4000-8000-000000000000"
# Every /v1 operation, the scope it needs, and a well-formed request to it.
OPERATIONS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST", "/v1/documents"): ("ingest", {"url": "/v1/documents", "json": {"text": "scoped"}}),
    ("POST", "/v1/documents/batch"): (
        "ingest",
        {"url": "/v1/documents/batch", "json": {"documents": [{"text": "scoped batch"}]}},
    ),
    ("POST", "/v1/documents/upload"): (
        "ingest",
        {"url": "/v1/documents/upload", "files": {"file": ("note.txt", b"A scoped upload.")}},
    ),
    ("GET", "/v1/documents/{document_id}"): ("read", {"url": f"/v1/documents/{ANY_ID}"}),
    ("DELETE", "/v1/documents/{document_id}"): ("ingest", {"url": f"/v1/documents/{ANY_ID}"}),
    ("GET", "/v1/jobs/{job_id}"): ("read", {"url": f"/v1/jobs/{ANY_ID}"}),
    ("GET", "/v1/jobs"): ("read", {"url": "/v1/jobs"}),
    ("GET", "/v1/queues"): ("admin", {"url": "/v1/queues"}),
    ("GET", "/v1/search"): ("read", {"url": "/v1/search", "params": {"q": "scoped"}}),
    ("GET", "/v1/insights/sentiment"): ("read", {"url": "/v1/insights/sentiment"}),
    ("GET", "/v1/insights/entities"): ("read", {"url": "/v1/insights/entities"}),
    ("GET", "/v1/dead-letters"): ("admin", {"url": "/v1/dead-letters"}),
    ("POST", "/v1/dead-letters/replay"): (
        "admin",
        {"url": "/v1/dead-letters/replay", "json": {"dry_run": True}},
    ),
    ("POST", "/v1/dead-letters/discard"): (
        "admin",
        {"url": "/v1/dead-letters/discard", "json": {"dry_run": True}},
    ),
    ("POST", "/v1/sources"): (
        "admin",
        {
            "url": "/v1/sources",
            "json": {"name": "scoped-feed", "type": "rss", "url": "http://127.0.0.1:9/f.xml"},
        },
    ),
    ("GET", "/v1/sources"): ("admin", {"url": "/v1/sources"}),
    ("PUT", "/v1/sources/{name}"): (
        "admin",
        {"url": "/v1/sources/scoped-put", "json": {"type": "rss", "url": "http://127.0.0.1:9/f.xml"}},
    ),
    ("GET", "/v1/sources/{name}"): ("admin", {"url": "/v1/sources/nothing-here"}),
    ("PATCH", "/v1/sources/{name}"): (
        "admin",
        {"url": "/v1/sources/nothing-here", "json": {"suspend": True}},
    ),
    ("DELETE", "/v1/sources/{name}"): ("admin", {"url": "/v1/sources/nothing-here"}),
    ("POST", "/v1/sources/{name}/sync"): ("admin", {"url": "/v1/sources/nothing-here/sync"}),
    # `{tenant}`: the tenant of the key the request is sent with.
    ("GET", "/v1/admin/tenants/{tenant}/retention"): (
        "admin",
        {"url": "/v1/admin/tenants/{tenant}/retention"},
    ),
    ("PUT", "/v1/admin/tenants/{tenant}/retention"): (
        "admin",
        {"url": "/v1/admin/tenants/{tenant}/retention", "json": {"retention_days": None}},
    ),
}


def v1_operations(client: TestClient) -> set[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() if path.startswith("/v1") for method in ops}


def test_the_scope_table_names_every_route(client: TestClient) -> None:
    assert set(OPERATIONS) == v1_operations(client)


@pytest.mark.parametrize("operation", list(OPERATIONS), ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_route_needs_its_scope(client: TestClient, operation: tuple[str, str]) -> None:
    method, _ = operation
    needed, request = OPERATIONS[operation]
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    request = {**request, "url": request["url"].replace("{tenant}", tenant)}
    keys = {scope: make_key(tenant, scopes=(scope,)) for scope in ("ingest", "read", "admin")}

    assert client.request(method, **request).status_code == 401
    assert client.request(method, **request, headers={"X-API-Key": "sie_notakey"}).status_code == 401
    for scope, key in keys.items():
        response = client.request(method, **request, headers=key.headers)
        if scope in (needed, "admin"):
            assert response.status_code not in (401, 403), (scope, response.text)
        else:
            assert response.status_code == 403, (scope, response.text)
            assert response.json()["detail"] == f"this API key lacks the '{needed}' scope"


# --- tenants -----------------------------------------------------------------------------------------


def test_no_route_reaches_another_tenants_objects(
    client: TestClient, recording_queue: RecordingQueue
) -> None:
    run = uuid.uuid4().hex[:8]
    owner, intruder = make_key(admin=True), make_key(admin=True)
    word = f"zanzibarite{run}"
    text = f"The {word} survey of Mombasa harbour was a wonderful success for Siemens."

    made = client.post(
        "/v1/documents", json={"text": text}, headers={**owner.headers, "Idempotency-Key": run}
    )
    document_id, job_id = made.json()["document_id"], made.json()["job_id"]
    assert run_job(uuid.UUID(job_id), recording_queue).status == "done"
    source = {"type": "rss", "url": "http://127.0.0.1:9/owner.xml"}
    assert client.put(f"/v1/sources/feed-{run}", json=source, headers=owner.headers).status_code == 201
    letter_job = client.post(
        "/v1/documents", json={"url": f"http://127.0.0.1:9/{run}"}, headers=owner.headers
    )
    with session_scope() as session:
        job = session.get(Job, uuid.UUID(letter_job.json()["job_id"]))
        assert job is not None
        record_dead_letter(
            session, job, error="HTTP 503 from the site", error_kind="fetch_transient", source="api"
        )
    assert client.get("/v1/search", params={"q": word}, headers=owner.headers).json()["total"] == 1

    reached: set[tuple[str, str]] = set()

    def attempt(method: str, template: str, url: str, **kwargs: Any) -> httpx.Response:
        reached.add((method, template))
        return client.request(
            method, url, headers={**intruder.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    assert attempt("GET", "/v1/documents/{document_id}", f"/v1/documents/{document_id}").status_code == 404
    assert attempt("DELETE", "/v1/documents/{document_id}", f"/v1/documents/{document_id}").status_code == 404
    assert attempt("GET", "/v1/jobs/{job_id}", f"/v1/jobs/{job_id}").status_code == 404
    assert attempt("GET", "/v1/jobs", "/v1/jobs", params={"document_id": document_id}).json()["count"] == 0
    assert job_id not in attempt("GET", "/v1/jobs", "/v1/jobs").text
    backlog = attempt("GET", "/v1/queues", "/v1/queues").json()["backlog"]
    assert all(entry["pending"] == 0 and entry["running"] == 0 for entry in backlog)
    assert attempt("GET", "/v1/search", "/v1/search", params={"q": word}).json()["total"] == 0
    assert attempt("GET", "/v1/insights/sentiment", "/v1/insights/sentiment").json()["totals"] == {
        "positive": 0,
        "neutral": 0,
        "negative": 0,
        "unscored": 0,
    }
    assert attempt("GET", "/v1/insights/entities", "/v1/insights/entities").json()["top"] == []
    # Content and idempotency keys are per tenant: the same text or key gives nothing away.
    same_text = attempt(
        "POST", "/v1/documents", "/v1/documents", json={"text": text}, headers={"Idempotency-Key": run}
    )
    assert same_text.status_code == 202 and same_text.json()["document_id"] != document_id
    assert not same_text.json()["duplicate"]
    batch = attempt(
        "POST",
        "/v1/documents/batch",
        "/v1/documents/batch",
        json={"documents": [{"text": text}]},
    )
    # (A duplicate of the intruder's own document just posted, never of the owner's.)
    assert batch.status_code == 202 and batch.json()["results"][0]["document_id"] != document_id
    upload = attempt(
        "POST", "/v1/documents/upload", "/v1/documents/upload", files={"file": ("a.txt", text.encode())}
    )
    assert upload.status_code == 202 and upload.json()["document_id"] != document_id
    # Dead letters: not listed, not replayed, and no naming the other tenant without the system scope.
    assert attempt("GET", "/v1/dead-letters", "/v1/dead-letters").json()["count"] == 0
    assert (
        attempt("GET", "/v1/dead-letters", "/v1/dead-letters", params={"tenant": owner.tenant}).status_code
        == 403
    )
    assert (
        attempt("GET", "/v1/dead-letters", "/v1/dead-letters", params={"all_tenants": True}).status_code
        == 403
    )
    replay = attempt("POST", "/v1/dead-letters/replay", "/v1/dead-letters/replay", json={})
    assert replay.status_code == 200 and replay.json()["matched"] == 0
    for body in ({"tenant": owner.tenant}, {"all_tenants": True}):
        assert (
            attempt("POST", "/v1/dead-letters/replay", "/v1/dead-letters/replay", json=body).status_code
            == 403
        )
    discard = attempt("POST", "/v1/dead-letters/discard", "/v1/dead-letters/discard", json={})
    assert discard.status_code == 200 and discard.json()["matched"] == 0
    for body in ({"tenant": owner.tenant}, {"all_tenants": True}):
        assert (
            attempt("POST", "/v1/dead-letters/discard", "/v1/dead-letters/discard", json=body).status_code
            == 403
        )
    # Sources: invisible, untouchable, and a PUT of the same name makes the intruder's own.
    name = f"feed-{run}"
    listed = attempt("GET", "/v1/sources", "/v1/sources").json()["data"]
    assert name not in [item["name"] for item in listed]
    assert attempt("GET", "/v1/sources", "/v1/sources", params={"tenant": owner.tenant}).status_code == 403
    assert attempt("GET", "/v1/sources/{name}", f"/v1/sources/{name}").status_code == 404
    assert (
        attempt("PATCH", "/v1/sources/{name}", f"/v1/sources/{name}", json={"suspend": True}).status_code
        == 404
    )
    assert attempt("POST", "/v1/sources/{name}/sync", f"/v1/sources/{name}/sync").status_code == 404
    assert attempt("DELETE", "/v1/sources/{name}", f"/v1/sources/{name}").status_code == 404
    other_url = {"type": "rss", "url": "http://127.0.0.1:9/intruder.xml"}
    assert attempt("PUT", "/v1/sources/{name}", f"/v1/sources/{name}", json=other_url).status_code == 201
    foreign = {"name": f"planted-{run}", "tenant": owner.tenant, **other_url}
    assert attempt("POST", "/v1/sources", "/v1/sources", json=foreign).status_code == 403
    # Tenant settings: neither read nor set without the system scope.
    retention = ("/v1/admin/tenants/{tenant}/retention", f"/v1/admin/tenants/{owner.tenant}/retention")
    assert attempt("GET", *retention).status_code == 403
    assert attempt("PUT", *retention, json={"retention_days": 1}).status_code == 403
    assert client.get(retention[1], headers=owner.headers).json()["retention_days"] is None

    assert reached == v1_operations(client)
    # The owner's objects are as they were.
    owned = client.get(f"/v1/sources/{name}", headers=owner.headers).json()
    assert owned["url"] == source["url"] and not owned["suspend"] and owned["generation"] == 1
    assert client.get(f"/v1/documents/{document_id}", headers=owner.headers).status_code == 200
    with session_scope() as session:
        letters = session.scalars(select(DeadLetter).where(DeadLetter.tenant == owner.tenant)).all()
    assert len(letters) == 1 and letters[0].replayed_at is None and letters[0].discarded_at is None


def test_default_keys_cannot_administer(client: TestClient) -> None:
    """`sie api-key create` without --admin gives ingest and read only."""
    assert DEFAULT_SCOPES == ("ingest", "read")
    key = make_key()
    assert client.get("/v1/sources", headers=key.headers).status_code == 403
