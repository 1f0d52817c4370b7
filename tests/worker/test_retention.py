"""Retention deletes exactly what expired: per tenant (its own setting, the default, or off), from the
database, the rollups and the search index (the database backend and Meilisearch), nothing of another
tenant; and when the archive cannot be written, nothing at all."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine import indexing, retention
from sie.core.engine.retention import run_retention
from sie.core.repository.retention import set_tenant_retention, tenants_to_expire
from sie.core.search import MeilisearchSearch
from tests.utils import retention as helpers
from tests.utils.cli import sie
from tests.utils.meili_fake import MeiliFake
from tests.utils.retention import entity_rows, existing, found, new_tenant, rollups_match_a_rebuild, seed

# Far longer than any other test's documents are old: a run over every tenant touches only these.
DEFAULT_DAYS = 5000


@pytest.fixture
def default_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "retention_days", DEFAULT_DAYS)
    monkeypatch.setattr(settings, "archive_url", None)


def own_retention(tenant: str, days: int | None) -> None:
    with session_scope() as session:
        set_tenant_retention(session=session, tenant=tenant, days=days)


@pytest.mark.usefixtures("default_retention")
def test_each_tenant_loses_exactly_its_expired_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks and batches: several of each in one run.
    monkeypatch.setattr(retention, "CHUNK", 3)
    monkeypatch.setattr(retention, "BATCH", 2)
    follows, own, off = new_tenant(), new_tenant(), new_tenant()
    own_retention(own, 30)
    own_retention(off, 0)
    follows_old = [seed(follows, days_old=DEFAULT_DAYS + 10 + i) for i in range(4)]
    follows_kept = [seed(follows, days_old=DEFAULT_DAYS - 10)]
    own_old = [seed(own, days_old=40 + i) for i in range(5)]
    own_kept = [seed(own, days_old=10), seed(own, days_old=29)]
    off_kept = [seed(off, days_old=DEFAULT_DAYS + 100)]

    with session_scope() as session:
        plan = dict(tenants_to_expire(session=session))
    assert plan[follows] == DEFAULT_DAYS and plan[own] == 30 and off not in plan

    dry = run_retention(tenant=own, dry_run=True)
    assert [(run.tenant, run.expired, run.removed) for run in dry] == [(own, 5, 0)]
    assert existing(own_old) == set(own_old)

    # One tenant's run leaves every other tenant alone, however old their documents.
    [run] = run_retention(tenant=own)
    assert (run.removed, run.error, run.parts) == (5, None, [])
    assert existing(own_old) == set() and entity_rows(own_old) == 0
    assert found(own) == set(own_kept)
    assert existing(follows_old) == set(follows_old)

    runs = {run.tenant: run for run in run_retention()}
    assert runs[follows].removed == 4 and runs[own].removed == 0 and off not in runs
    assert existing(follows_old) == set()
    assert found(follows) == set(follows_kept)
    assert existing(off_kept) == set(off_kept) and found(off) == set(off_kept)
    for tenant in (follows, own, off):
        assert rollups_match_a_rebuild(tenant)


def test_a_tenant_setting_applies_without_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "retention_days", None)
    monkeypatch.setattr(settings, "archive_url", None)
    tenant, untouched = new_tenant(), new_tenant()
    own_retention(tenant, 7)
    old, kept = seed(tenant, days_old=8), seed(tenant, days_old=6)
    other = seed(untouched, days_old=10_000)
    with session_scope() as session:
        assert untouched not in dict(tenants_to_expire(session=session))
    assert {run.tenant for run in run_retention()} >= {tenant}
    assert existing([old, kept, other]) == {kept, other}
    own_retention(tenant, None)  # back to the default: off
    assert run_retention(tenant=tenant) == []


@pytest.mark.usefixtures("default_retention")
def test_nothing_is_deleted_when_the_archive_cannot_be_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(settings, "archive_url", str(blocker / "archive"))
    tenant = new_tenant()
    own_retention(tenant, 30)
    old = [seed(tenant, days_old=31), seed(tenant, days_old=32)]
    [run] = run_retention(tenant=tenant)
    assert run.error and "archiving" in run.error and run.removed == 0
    assert existing(old) == set(old) and found(tenant) == set(old)
    result = sie("retention", "run", "--tenant", tenant)
    assert result.exit_code == 1 and "failed after 0 documents" in result.output


@pytest.fixture
def meilisearch(monkeypatch: pytest.MonkeyPatch) -> Iterator[MeilisearchSearch]:
    """Meilisearch (the contract-checked fake) as this process's search backend."""
    fake = MeiliFake()
    fake.start()
    backend = MeilisearchSearch(fake.url, fake.api_key, f"retention-{uuid.uuid4().hex[:6]}", timeout=2)
    for module in (indexing, retention, helpers):
        monkeypatch.setattr(module, "get_search_backend", lambda: backend)
    try:
        yield backend
    finally:
        fake.stop()
    assert not fake.violations, fake.violations


@pytest.mark.usefixtures("default_retention")
def test_expired_documents_leave_meilisearch(meilisearch: MeilisearchSearch) -> None:
    tenant, other = new_tenant(), new_tenant()
    own_retention(tenant, 30)
    own_retention(other, 30)
    old, kept = seed(tenant, days_old=45), seed(tenant, days_old=3)
    others = seed(other, days_old=45)
    assert found(tenant) == {old, kept}
    [run] = run_retention(tenant=tenant)
    assert run.removed == 1
    assert found(tenant) == {kept} and found(other) == {others}


def test_the_scheduler_runs_retention_once_an_hour_across_replicas(
    monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis
) -> None:
    monkeypatch.setattr(settings, "retention_days", None)
    monkeypatch.setattr(settings, "archive_url", None)
    monkeypatch.setattr(retention, "CHECK_SECONDS", 0.05)
    redis_client.delete(retention.DUE_KEY)
    tenant = new_tenant()
    own_retention(tenant, 30)
    first = seed(tenant, days_old=31)
    replicas = [threading.Event(), threading.Event()]
    for stop in replicas:
        retention.start_retention_thread(stop)
    try:
        deadline = time.monotonic() + 10
        while existing([first]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert existing([first]) == set()
        assert 3500 < redis_client.ttl(retention.DUE_KEY) <= 3600
        # Within the hour neither replica runs it again.
        second = seed(tenant, days_old=31)
        time.sleep(0.5)
        assert existing([second]) == {second}
    finally:
        for stop in replicas:
            stop.set()
