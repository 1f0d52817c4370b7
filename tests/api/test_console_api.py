"""What the console needs from the API: the console and docs pages with their headers, a tenant's
recent jobs (all, by status, one document's) and its backlog per priority."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sie_api.console import STATIC_DIR
from sqlalchemy import update

from sie.core.db import session_scope
from sie.core.models import Job
from tests.utils.api import make_key


def _push(client: TestClient, headers: dict[str, str], priority: str = "normal") -> dict[str, str]:
    response = client.post(
        "/v1/documents", json={"text": f"console {uuid.uuid4()}", "priority": priority}, headers=headers
    )
    assert response.status_code == 202
    return response.json()


def _directives(policy: str) -> dict[str, str]:
    return {name: value for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))}


def test_console_and_docs_pages_forbid_scripts_from_elsewhere(client: TestClient) -> None:
    for path in ("/ui/", "/ui/static/js/app.js", "/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = _directives(response.headers["content-security-policy"])
        assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'", path
        assert response.headers["x-content-type-options"] == "nosniff"
    assert _directives(client.get("/ui/").headers["content-security-policy"])["style-src"] == "'self'"
    assert client.get("/ui", follow_redirects=False).headers["location"] == "ui/"


def test_pages_load_nothing_from_another_host_and_run_no_inline_script() -> None:
    for page in STATIC_DIR.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", html), page.name
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {page.name}"


def test_recent_jobs_are_the_tenants_own_newest_first(client: TestClient) -> None:
    key, stranger = make_key(), make_key()
    first, second = _push(client, key.headers), _push(client, key.headers)
    _push(client, stranger.headers)
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == uuid.UUID(first["job_id"])).values(status="dead"))

    listed = client.get("/v1/jobs", headers=key.headers).json()
    assert [job["id"] for job in listed["jobs"]] == [second["job_id"], first["job_id"]]
    assert listed["count"] == 2
    dead = client.get("/v1/jobs", params={"status": "dead"}, headers=key.headers).json()
    assert [job["id"] for job in dead["jobs"]] == [first["job_id"]]
    history = client.get("/v1/jobs", params={"document_id": second["document_id"]}, headers=key.headers)
    assert [job["id"] for job in history.json()["jobs"]] == [second["job_id"]]
    theirs = client.get("/v1/jobs", params={"document_id": second["document_id"]}, headers=stranger.headers)
    assert theirs.json() == {"jobs": [], "count": 0}
    assert client.get("/v1/jobs", params={"status": "lost"}, headers=key.headers).status_code == 422
    assert client.get("/v1/jobs", params={"limit": 0}, headers=key.headers).status_code == 422


def test_backlog_counts_the_tenants_unfinished_jobs_per_priority(client: TestClient) -> None:
    admin, reader = make_key(admin=True), make_key()
    for priority in ("high", "high", "low"):
        _push(client, admin.headers, priority)
    running = _push(client, admin.headers, "high")
    _push(client, make_key().headers, "normal")  # another tenant's
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == uuid.UUID(running["job_id"])).values(status="running"))

    response = client.get("/v1/queues", headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["backlog"] == [
        {"priority": "high", "queue": "ingestion.high", "pending": 2, "running": 1},
        {"priority": "normal", "queue": "ingestion", "pending": 0, "running": 0},
        {"priority": "low", "queue": "ingestion.low", "pending": 1, "running": 0},
    ]
    assert client.get("/v1/queues", headers=reader.headers).status_code == 403
    assert client.get("/v1/queues").status_code == 401
