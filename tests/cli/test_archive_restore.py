"""Archive, delete, restore: documents come back equal to what was archived, entity rows, rollups and
search included; and the CLI and the admin API refuse what they cannot do, with a clear error."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sie.core.config import settings
from sie.core.security import SYSTEM_SCOPES
from tests.utils.api import make_key
from tests.utils.cli import sie
from tests.utils.retention import (
    entity_rows,
    existing,
    found,
    new_tenant,
    records,
    rollups,
    rollups_match_a_rebuild,
    seed,
)


def unstamped(archived: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every field but `updated_at`, which indexing moves (the restored row was written now)."""
    return [{key: value for key, value in record.items() if key != "updated_at"} for record in archived]


@pytest.fixture(autouse=True)
def _no_default_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "retention_days", None)


@pytest.mark.parametrize("scheme", ["directory", "fsspec-url"])
def test_archive_delete_restore_round_trip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scheme: str
) -> None:
    archive = str(tmp_path / "cold") if scheme == "directory" else f"memory://sie-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(settings, "archive_url", archive)
    tenant = new_tenant("arc/hive")  # a slash in the name stays one path segment
    expired = [seed(tenant, days_old=days) for days in (40, 41, 75, 76, 77)]
    kept = seed(tenant, days_old=5)
    originals = records(expired)
    rollups_before = rollups(tenant)

    assert sie("retention", "set", tenant, "--days", "30").exit_code == 0
    dry = sie("retention", "run", "--tenant", tenant, "--dry-run")
    assert dry.exit_code == 0 and "5 documents older than 30 days would be deleted" in dry.output
    ran = sie("retention", "run", "--tenant", tenant)
    assert ran.exit_code == 0, ran.output
    assert existing([*expired, kept]) == {kept} and entity_rows(expired) == 0
    assert found(tenant) == {kept}

    # One directory per tenant and month, gzip JSON Lines, every field and entity row in them.
    import fsspec

    fs, root = fsspec.core.url_to_fs(archive)
    parts = sorted(fs.glob(f"{root}/**/*.jsonl.gz"))
    months = {part.rsplit("/", 2)[1] for part in parts}
    assert len(parts) == len(months) == len({record["created_at"][:7] for record in originals})
    assert all(part.split("/")[-3] == tenant.replace("/", "%2F") for part in parts)
    with fs.open(parts[0], "rb") as raw:
        line = json.loads(gzip.decompress(raw.read()).splitlines()[0])
    assert len(line["entity_rows"]) == 2 and line["metadata"] == {"desk": "port", "nested": {"n": 1}}

    restored = sie("archive", "restore", archive, "--tenant", tenant)
    assert restored.exit_code == 0, restored.output
    assert restored.stdout.startswith("5 documents restored (0 present already)")
    assert unstamped(records(expired)) == unstamped(originals)
    assert found(tenant) == {*expired, kept}
    assert rollups(tenant) == rollups_before and rollups_match_a_rebuild(tenant)

    again = sie("archive", "restore", archive)
    assert again.exit_code == 0 and again.stdout.startswith("0 documents restored (5 present already)")


def test_restore_takes_one_month(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(settings, "archive_url", str(tmp_path))
    tenant = new_tenant()
    docs = [seed(tenant, days_old=days) for days in (40, 100)]
    month = records(docs[:1])[0]["created_at"][:7]
    assert sie("retention", "set", tenant, "--days", "30").exit_code == 0
    assert sie("retention", "run", "--tenant", tenant).exit_code == 0
    assert existing(docs) == set()
    result = sie("archive", "restore", str(tmp_path), "--tenant", tenant, "--month", month)
    assert result.exit_code == 0, result.output
    assert existing(docs) == {docs[0]}
    nothing = sie("archive", "restore", str(tmp_path / "nowhere"))
    assert nothing.exit_code == 1 and "no archive parts" in nothing.output


@pytest.mark.parametrize(
    "args",
    [
        ("retention", "set", "t"),
        ("retention", "set", "t", "--days", "0"),
        ("retention", "set", "t", "--days", "-3"),
        ("retention", "set", "t", "--days", "5", "--off"),
        ("retention", "set", "t", "--days", "many"),
        ("retention", "set", "x" * 101, "--off"),
        ("archive", "restore", "/tmp", "--month", "2026-13"),
        ("archive", "restore", "/tmp", "--month", "26-01"),
    ],
)
def test_the_cli_refuses_bad_input(args: tuple[str, ...]) -> None:
    result = sie(*args)
    assert result.exit_code == 2, result.output


def test_the_cli_sets_and_shows_a_tenant_retention() -> None:
    tenant = new_tenant()
    assert sie("retention", "set", tenant, "--off").stdout.strip() == f"{tenant}\toff\t(effective: off)"
    assert f"{tenant}\toff" in sie("retention", "show").stdout
    assert sie("retention", "set", tenant, "--days", "9").exit_code == 0
    shown = sie("retention", "show", "--tenant", tenant).stdout.splitlines()
    assert shown == ["default\toff", f"{tenant}\t9 days\t(effective: 9 days)"]
    assert (
        sie("retention", "set", tenant, "--default").stdout.strip() == f"{tenant}\tdefault\t(effective: off)"
    )


def test_the_admin_api_reads_and_sets_retention(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "retention_days", 90)
    admin = make_key(admin=True)
    url = f"/v1/admin/tenants/{admin.tenant}/retention"
    answer = client.get(url, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "tenant": admin.tenant,
        "retention_days": None,
        "default_days": 90,
        "effective_days": 90,
    }
    assert client.put(url, json={"retention_days": 0}, headers=admin.headers).json()["effective_days"] is None
    set_days = client.put(url, json={"retention_days": 14}, headers=admin.headers)
    assert set_days.status_code == 200 and set_days.json()["effective_days"] == 14
    assert client.get(url, headers=admin.headers).json()["retention_days"] == 14
    inherit = client.put(url, json={"retention_days": None}, headers=admin.headers)
    assert inherit.json()["retention_days"] is None and inherit.json()["effective_days"] == 90

    for body in (
        {"retention_days": -1},
        {"retention_days": 36_501},
        {"retention_days": "x"},
        {},
        {"days": 3},
    ):
        refused = client.put(url, json=body, headers=admin.headers)
        assert refused.status_code == 422, (body, refused.text)
    assert client.put(url, content=b"", headers=admin.headers).status_code == 422

    other = f"/v1/admin/tenants/{new_tenant()}/retention"
    assert client.get(other, headers=admin.headers).status_code == 403
    system = make_key(scopes=SYSTEM_SCOPES)
    assert client.put(other, json={"retention_days": 3}, headers=system.headers).status_code == 200
    reader = make_key()
    assert (
        client.get(f"/v1/admin/tenants/{reader.tenant}/retention", headers=reader.headers).status_code == 403
    )
