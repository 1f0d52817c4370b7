"""`/v1/sources`: CRUD, the idempotent PUT the operator relies on, sync now, tenant isolation, secrets."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from sie.core.models import utcnow
from tests.sources.source_helpers import ingested
from tests.sources.sources_site import Site, rss
from tests.utils.api import TestKey as ApiKeyForTests
from tests.utils.api import make_key

SECRET = "Bearer very-secret-token"


@pytest.fixture
def admin() -> ApiKeyForTests:
    return make_key(admin=True)


def feed_body(site: Site, **overrides: object) -> dict:
    return {"type": "rss", "url": site.url("/feed.xml"), "interval": "15m", **overrides}


def test_create_read_list_and_status_fields(client: TestClient, admin: ApiKeyForTests, site: Site) -> None:
    response = client.post(
        "/v1/sources",
        json={**feed_body(site), "name": "news", "priority": "high", "auth_header": SECRET},
        headers=admin.headers,
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "news" and body["tenant"] == admin.tenant and body["type"] == "rss"
    assert (body["interval"], body["interval_seconds"]) == ("15m", 900)
    assert body["auth_header_set"] is True and "auth_header" not in body
    assert set(body["status"]) >= {
        "last_attempt_at",
        "last_success_at",
        "next_run_at",
        "items_seen",
        "items_ingested",
        "items_skipped",
        "consecutive_failures",
        "last_error",
    }
    assert body["status"]["items_ingested"] == 0 and body["status"]["last_attempt_at"] is None
    assert datetime.fromisoformat(body["status"]["next_run_at"]) <= utcnow()

    read = client.get("/v1/sources/news", headers=admin.headers)
    listing = client.get("/v1/sources", headers=admin.headers)
    assert read.status_code == 200 and read.json()["id"] == body["id"]
    assert listing.json()["count"] == 1 and listing.json()["data"][0]["name"] == "news"
    for text in (response.text, read.text, listing.text):
        assert "very-secret-token" not in text


def test_create_twice_is_a_conflict(client: TestClient, admin: ApiKeyForTests, site: Site) -> None:
    assert (
        client.post(
            "/v1/sources", json={**feed_body(site), "name": "once"}, headers=admin.headers
        ).status_code
        == 201
    )
    again = client.post("/v1/sources", json={**feed_body(site), "name": "once"}, headers=admin.headers)
    assert again.status_code == 409


def test_put_creates_then_is_idempotent_then_updates(
    client: TestClient, admin: ApiKeyForTests, site: Site
) -> None:
    body = feed_body(site, auth_header=SECRET)

    created = client.put("/v1/sources/blog", json=body, headers=admin.headers)
    same = client.put("/v1/sources/blog", json=body, headers=admin.headers)
    changed = client.put("/v1/sources/blog", json={**body, "interval": "1h"}, headers=admin.headers)

    assert created.status_code == 201 and same.status_code == 200 and changed.status_code == 200
    assert same.json()["id"] == created.json()["id"]
    # Re-applying the same spec changes nothing: no new generation, no extra poll scheduled.
    assert same.json()["generation"] == created.json()["generation"]
    assert same.json()["status"]["next_run_at"] == created.json()["status"]["next_run_at"]
    assert changed.json()["generation"] == created.json()["generation"] + 1
    assert changed.json()["interval"] == "1h"
    assert client.get("/v1/sources", headers=admin.headers).json()["count"] == 1

    # PUT replaces the whole spec: leaving out auth_header removes it.
    without_secret = client.put("/v1/sources/blog", json=feed_body(site), headers=admin.headers)
    assert without_secret.json()["auth_header_set"] is False


def test_concurrent_puts_of_one_name_make_one_source(
    client: TestClient, admin: ApiKeyForTests, site: Site
) -> None:
    statuses: list[int] = []

    def put() -> None:
        statuses.append(
            client.put("/v1/sources/raced", json=feed_body(site), headers=admin.headers).status_code
        )

    threads = [threading.Thread(target=put) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 200, 200, 201]
    assert client.get("/v1/sources", headers=admin.headers).json()["count"] == 1


def test_patch_suspend_keeps_the_schedule_and_other_changes_poll_at_once(
    client: TestClient, admin: ApiKeyForTests, site: Site
) -> None:
    created = client.post("/v1/sources", json={**feed_body(site), "name": "p"}, headers=admin.headers).json()

    suspended = client.patch("/v1/sources/p", json={"suspend": True}, headers=admin.headers)
    moved = client.patch(
        "/v1/sources/p",
        json={"type": "url_list", "url": None, "urls": [site.url("/a"), site.url("/b")]},
        headers=admin.headers,
    )

    assert suspended.status_code == 200 and suspended.json()["suspend"] is True
    assert suspended.json()["status"]["next_run_at"] == created["status"]["next_run_at"]
    assert moved.status_code == 200
    assert moved.json()["type"] == "url_list" and moved.json()["url"] is None
    assert moved.json()["urls"] == [site.url("/a"), site.url("/b")]
    assert moved.json()["generation"] == created["generation"] + 2


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"type": "gopher", "url": "http://example.org/x"}, "unknown source type 'gopher'"),
        ({"type": "rss"}, "a feed source needs `url`"),
        ({"type": "url_list", "url": "http://example.org/l", "urls": ["http://example.org/a"]}, "not both"),
        ({"type": "rss", "url": "http://example.org/f", "interval": "10s"}, "interval must be at least 1m"),
        ({"type": "rss", "url": "http://example.org/f", "interval": "soon"}, "not a duration"),
        ({"type": "rss", "url": "ftp://example.org/f"}, "URL scheme should be 'http' or 'https'"),
        ({"type": "rss", "url": "http://example.org/f", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_are_422_with_the_reason(
    client: TestClient, admin: ApiKeyForTests, payload: dict, fragment: str
) -> None:
    response = client.put("/v1/sources/bad", json={**payload, "auth_header": SECRET}, headers=admin.headers)

    assert response.status_code == 422
    assert fragment in response.text
    # Errors never echo the submitted body, which may hold the auth header.
    assert "very-secret-token" not in response.text


def test_patch_to_an_unworkable_combination_is_409(
    client: TestClient, admin: ApiKeyForTests, site: Site
) -> None:
    client.post("/v1/sources", json={**feed_body(site), "name": "combo"}, headers=admin.headers)
    response = client.patch("/v1/sources/combo", json={"url": None}, headers=admin.headers)
    # Well formed by the schema; only the source's current fields make it unworkable: a conflict.
    assert response.status_code == 409 and "a feed source needs `url`" in response.text
    assert client.get("/v1/sources/combo", headers=admin.headers).json()["url"] == site.url("/feed.xml")
    assert (
        client.patch("/v1/sources/combo", json={"priority": None}, headers=admin.headers).status_code == 422
    )


def test_delete_removes_the_source(client: TestClient, admin: ApiKeyForTests, site: Site) -> None:
    client.post("/v1/sources", json={**feed_body(site), "name": "gone"}, headers=admin.headers)

    assert client.delete("/v1/sources/gone", headers=admin.headers).status_code == 204
    assert client.get("/v1/sources/gone", headers=admin.headers).status_code == 404
    assert client.delete("/v1/sources/gone", headers=admin.headers).status_code == 404


def test_tenants_never_see_each_others_sources(client: TestClient, admin: ApiKeyForTests, site: Site) -> None:
    other = make_key(admin=True)
    client.put("/v1/sources/shared-name", json=feed_body(site), headers=admin.headers)

    assert client.get("/v1/sources/shared-name", headers=other.headers).status_code == 404
    assert (
        client.patch("/v1/sources/shared-name", json={"suspend": True}, headers=other.headers).status_code
        == 404
    )
    assert client.delete("/v1/sources/shared-name", headers=other.headers).status_code == 404
    assert client.post("/v1/sources/shared-name/sync", headers=other.headers).status_code == 404
    assert client.get("/v1/sources", headers=other.headers).json()["count"] == 0
    # The same name in another tenant is that tenant's own source.
    theirs = client.put("/v1/sources/shared-name", json=feed_body(site), headers=other.headers)
    assert theirs.status_code == 201 and theirs.json()["tenant"] == other.tenant
    assert client.get("/v1/sources/shared-name", headers=admin.headers).json()["tenant"] == admin.tenant

    foreign = client.put(
        "/v1/sources/x", json={**feed_body(site), "tenant": other.tenant}, headers=admin.headers
    )
    assert foreign.status_code == 403
    own = client.put("/v1/sources/x", json={**feed_body(site), "tenant": admin.tenant}, headers=admin.headers)
    assert own.status_code == 201


def test_sources_need_an_admin_key(client: TestClient, site: Site) -> None:
    reader = make_key(scopes=("ingest", "read"))
    assert client.get("/v1/sources", headers=reader.headers).status_code == 403
    assert client.put("/v1/sources/x", json=feed_body(site), headers=reader.headers).status_code == 403
    assert client.get("/v1/sources").status_code == 401


def test_sync_now_makes_the_source_due_and_wait_polls_it(
    client: TestClient, admin: ApiKeyForTests, site: Site
) -> None:
    article = site.serve_article("/articles/1")
    site.serve("/feed.xml", rss([(article, "one")]))
    client.put("/v1/sources/now", json=feed_body(site), headers=admin.headers)

    requested = client.post("/v1/sources/now/sync", headers=admin.headers)
    polled = client.post("/v1/sources/now/sync?wait=true", headers=admin.headers)

    assert requested.status_code == 202
    assert datetime.fromisoformat(requested.json()["status"]["next_run_at"]) <= utcnow()
    assert polled.status_code == 200
    status = polled.json()["status"]
    assert status["items_ingested"] == 1 and status["last_success_at"] is not None
    assert status["last_poll"]["outcome"] == "ok"
    assert ingested(admin.tenant, "now").urls == {article}


def test_sync_of_a_suspended_source_is_a_conflict(
    client: TestClient, admin: ApiKeyForTests, site: Site
) -> None:
    client.put("/v1/sources/paused", json=feed_body(site, suspend=True), headers=admin.headers)
    assert client.post("/v1/sources/paused/sync", headers=admin.headers).status_code == 409


def test_a_failing_source_shows_its_error_through_the_api(
    client: TestClient, admin: ApiKeyForTests, site: Site
) -> None:
    site.serve("/feed.xml", "no", status=500, validators=False)
    client.put("/v1/sources/broken", json=feed_body(site), headers=admin.headers)

    status = client.post("/v1/sources/broken/sync?wait=true", headers=admin.headers).json()["status"]

    assert status["consecutive_failures"] == 1 and "HTTP 500" in status["last_error"]
    assert status["last_poll"]["outcome"] == "failed" and status["last_success_at"] is None
