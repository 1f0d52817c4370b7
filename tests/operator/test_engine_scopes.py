"""What the operator relies on in the API: the `system` scope across tenants, dry runs, the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bench.dead_jobs import make_dead_jobs
from sie.cli import app as cli
from sie.core.queues import DEAD_LETTER_LIST
from sie.core.security import SYSTEM_SCOPES
from tests.utils.api import make_key

FEED = {"type": "rss", "url": "http://127.0.0.1:9/feed.xml", "interval": "1h"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    from sie_api.main import app

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def clean_dead_letter_list(redis_client: redis.Redis) -> Iterator[None]:
    redis_client.delete(DEAD_LETTER_LIST)
    yield
    redis_client.delete(DEAD_LETTER_LIST)


def test_system_key_manages_any_tenants_sources_admin_key_only_its_own(client: TestClient) -> None:
    system = make_key("operator", scopes=SYSTEM_SCOPES)
    admin = make_key(admin=True)
    other = f"tenant-{uuid.uuid4().hex[:8]}"

    created = client.put("/v1/sources/feed", json={**FEED, "tenant": other}, headers=system.headers)
    assert created.status_code == 201 and created.json()["tenant"] == other
    assert client.get("/v1/sources/feed", params={"tenant": other}, headers=system.headers).status_code == 200
    # Without ?tenant= a system key acts for its own tenant, where there is no such source.
    assert client.get("/v1/sources/feed", headers=system.headers).status_code == 404

    assert (
        client.put("/v1/sources/feed", json={**FEED, "tenant": other}, headers=admin.headers).status_code
        == 403
    )
    assert client.get("/v1/sources/feed", params={"tenant": other}, headers=admin.headers).status_code == 403
    assert (
        client.delete("/v1/sources/feed", params={"tenant": other}, headers=admin.headers).status_code == 403
    )

    assert (
        client.delete("/v1/sources/feed", params={"tenant": other}, headers=system.headers).status_code == 204
    )
    assert client.get("/v1/sources/feed", params={"tenant": other}, headers=system.headers).status_code == 404


def test_admin_scope_does_not_imply_system(client: TestClient) -> None:
    admin = make_key(admin=True)
    response = client.get("/v1/dead-letters", params={"all_tenants": "true"}, headers=admin.headers)
    assert response.status_code == 403
    assert "system" in response.json()["detail"]


def test_dry_run_counts_every_match_and_moves_nothing(
    client: TestClient, clean_dead_letter_list: None
) -> None:
    system = make_key("operator", scopes=SYSTEM_SCOPES)
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    make_dead_jobs(tenant, 25)
    body = {"tenant": tenant, "dry_run": True, "max_jobs": 1000}
    answer = client.post("/v1/dead-letters/replay", json=body, headers=system.headers).json()
    assert answer["matched"] == 25 and len(answer["sample"]) == 10
    assert (
        client.post("/v1/dead-letters/replay", json={**body, "max_jobs": 7}, headers=system.headers).json()[
            "matched"
        ]
        == 7
    )
    listed = client.get("/v1/dead-letters", params={"tenant": tenant}, headers=system.headers).json()
    assert listed["total"] == 25


def test_replays_are_recorded_once_with_who_and_counted_in_the_audit(
    client: TestClient, clean_dead_letter_list: None
) -> None:
    system = make_key("operator", scopes=SYSTEM_SCOPES)
    tenants = [f"tenant-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for tenant in tenants:
        make_dead_jobs(tenant, 5, error=f"boom-{tenants[0]}")
    label = f"operator:ns/replay/{uuid.uuid4()}"
    request = {
        "all_tenants": True,
        "error_contains": f"boom-{tenants[0]}",
        "max_jobs": 100,
        "replayed_by": label,
    }

    first = client.post("/v1/dead-letters/replay", json=request, headers=system.headers).json()
    again = client.post("/v1/dead-letters/replay", json=request, headers=system.headers).json()
    assert (first["replayed"], again["replayed"]) == (10, 0)

    audit = client.get(
        "/v1/dead-letters",
        params={"replayed": "true", "replayed_by": label, "all_tenants": "true", "limit": 3},
        headers=system.headers,
    ).json()
    assert (audit["count"], audit["total"]) == (3, 10)
    letter = audit["dead_letters"][0]
    assert letter["replayed_by"] == f"api:{system.key_id} ({label})" and letter["tenant"] in tenants

    # An admin key of one of those tenants sees its own part of the trail, never the other's.
    admin = make_key(tenants[0], admin=True)
    own = client.get("/v1/dead-letters", params={"replayed": "true"}, headers=admin.headers).json()
    assert own["total"] == 5 and {entry["tenant"] for entry in own["dead_letters"]} == {tenants[0]}


def test_cli_grants_system_only_with_the_flag() -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["api-key", "create", "--tenant", "ops", "--system"])
    assert created.exit_code == 0, created.output
    assert "system" in created.output
    refused = runner.invoke(cli, ["api-key", "create", "--tenant", "ops", "--scope", "system"])
    assert refused.exit_code != 0
