"""`sie api-key update` changes limits in place; `sie api-key list` shows limits, creation and last use."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from sqlalchemy import update

from sie.core.db import session_scope
from sie.core.models import ApiKey
from tests.utils.api import make_key
from tests.utils.cli import sie

if TYPE_CHECKING:
    from tests.utils.api import TestKey


def submit(client: TestClient, key: TestKey) -> int:
    response = client.post("/v1/documents", json={"text": f"a note {uuid.uuid4()}"}, headers=key.headers)
    return response.status_code


def listed(key: TestKey) -> dict[str, str]:
    """The key's row of `sie api-key list --tenant`, by column header."""
    result = sie("api-key", "list", "--tenant", key.tenant)
    assert result.exit_code == 0, result.output
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    (row,) = [dict(zip(header, row, strict=True)) for row in rows if row[0] == key.key_id]
    return row


def test_update_raises_a_keys_limit_in_place(client: TestClient) -> None:
    key = make_key(rate_limits={"normal": {"requests": 2, "period": 60}})
    assert [submit(client, key) for _ in range(3)] == [202, 202, 429]

    result = sie(
        "api-key", "update", key.key_id, "--rate-limit", "normal=5/60", "--rate-limit", "high=100/60"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"updated {key.key_id}: rate limits normal=5/60,high=100/60"
    # The same key, the same window: the next request is counted against the new limit.
    assert [submit(client, key) for _ in range(4)] == [202, 202, 202, 429]
    assert listed(key)["RATE LIMITS"] == "normal=5/60,high=100/60"

    assert sie("api-key", "update", key.key_id, "--rate-limit", "high=200/60").exit_code == 0
    assert listed(key)["RATE LIMITS"] == "normal=5/60,high=200/60"
    assert sie("api-key", "update", key.key_id, "--default-rate-limits").exit_code == 0
    assert listed(key)["RATE LIMITS"] == "default"


def test_update_refuses_what_it_cannot_do() -> None:
    key = make_key()
    bad = sie("api-key", "update", key.key_id, "--rate-limit", "normal=0/60")
    assert bad.exit_code == 2 and "positive numbers (e.g. normal=600/60)" in bad.output
    nothing = sie("api-key", "update", key.key_id)
    assert nothing.exit_code == 2 and "--default-rate-limits" in nothing.output
    unknown = sie("api-key", "update", "Zz" * 6, "--rate-limit", "normal=60/60")
    assert unknown.exit_code == 1 and f"no active key {'Zz' * 6}" in unknown.output
    assert sie("api-key", "revoke", key.key_id).exit_code == 0
    revoked = sie("api-key", "update", key.key_id, "--rate-limit", "normal=60/60")
    assert revoked.exit_code == 1


def test_list_shows_when_a_key_was_created_and_last_used(client: TestClient) -> None:
    key = make_key()
    row = listed(key)
    created = datetime.strptime(row["CREATED"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=2)
    assert row["LAST USED"] == "never" and row["STATE"] == "active"

    assert client.get("/v1/search", headers=key.headers).status_code == 200
    last_used = datetime.strptime(listed(key)["LAST USED"], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - last_used) < timedelta(minutes=2)


def test_last_use_costs_no_write_per_request(client: TestClient) -> None:
    key = make_key()
    assert client.get("/v1/search", headers=key.headers).status_code == 200
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope() as session:
        session.execute(update(ApiKey).where(ApiKey.id == key.key_id).values(last_used_at=long_ago))
    # Within the minute, this process does not write the key's last use again.
    for _ in range(3):
        assert client.get("/v1/search", headers=key.headers).status_code == 200
    assert listed(key)["LAST USED"] == "2026-01-01T00:00Z"
