"""`sie dead-letters discard` (and `POST /v1/dead-letters/discard`): a dry run first, then the letters
leave the queue, their jobs stay dead, and who discarded them is recorded, as replays are."""

from __future__ import annotations

import json
import uuid

import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from bench.dead_jobs import job_statuses, make_dead_jobs
from sie.core.db import session_scope
from sie.core.models import DeadLetter
from sie.core.queues import DEAD_LETTER_LIST
from tests.utils.api import make_key
from tests.utils.cli import sie


def letters_of(job_ids: list[uuid.UUID]) -> list[DeadLetter]:
    with session_scope() as session:
        return list(session.scalars(select(DeadLetter).where(DeadLetter.job_id.in_(job_ids))))


def listed_job_ids(redis_client: redis.Redis) -> set[str]:
    return {json.loads(entry)["job_id"] for entry in redis_client.lrange(DEAD_LETTER_LIST, 0, -1)}


def test_discard_with_a_dry_run_first_is_audited(redis_client: redis.Redis) -> None:
    tenant = f"dlq-{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    invalid = make_dead_jobs(tenant, 3, error=f"UnsupportedContent {marker}")
    valid = make_dead_jobs(tenant, 2, error="FetchTransientError: ConnectError")
    filters = ("--tenant", tenant, "--error-contains", marker)

    dry = sie("dead-letters", "discard", *filters, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[-1] == "3 jobs would be discarded (dry run: nothing changed)"
    assert {line.split("\t")[1] for line in dry.stdout.splitlines()[:-1]} == {str(job) for job in invalid}
    assert all(letter.discarded_at is None for letter in letters_of(invalid))

    done = sie("dead-letters", "discard", *filters)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "3 jobs discarded"
    for letter in letters_of(invalid):
        assert letter.discarded_by == "cli:on-call" and letter.discarded_at is not None
        assert letter.replayed_at is None
    assert job_statuses(invalid) == {"dead": 3}
    assert all(letter.discarded_at is None for letter in letters_of(valid))
    listed = listed_job_ids(redis_client)
    assert not listed & {str(job) for job in invalid} and {str(job) for job in valid} <= listed

    pending = sie("dead-letters", "list", "--limit", "10000").stdout
    assert marker not in pending and str(valid[0]) in pending
    audit = sie("dead-letters", "list", "--state", "discarded", "--limit", "10000").stdout
    assert {str(job) for job in invalid} <= {line.split("\t")[1] for line in audit.splitlines()}
    assert "cli:on-call" in audit
    # Each letter is discarded once: nothing is left to match.
    assert sie("dead-letters", "discard", *filters).stdout.strip() == "0 jobs discarded"


def test_replay_has_the_same_dry_run() -> None:
    tenant = f"dlq-{uuid.uuid4().hex[:8]}"
    jobs = make_dead_jobs(tenant, 2)
    dry = sie("dead-letters", "replay", "--tenant", tenant, "--dry-run")
    assert dry.stdout.splitlines()[-1] == "2 jobs would be replayed (dry run: nothing changed)"
    assert job_statuses(jobs) == {"dead": 2}


def test_the_api_discards_its_tenants_letters_with_an_audit_trail(client: TestClient) -> None:
    admin = make_key(admin=True)
    other_tenant = f"dlq-{uuid.uuid4().hex[:8]}"
    mine, theirs = make_dead_jobs(admin.tenant, 2), make_dead_jobs(other_tenant, 1)

    preview = client.post("/v1/dead-letters/discard", json={"dry_run": True}, headers=admin.headers)
    assert preview.status_code == 200, preview.text
    assert preview.json()["matched"] == 2 and len(preview.json()["sample"]) == 2

    body = {"max_jobs": 10, "discarded_by": "ticket-42"}
    done = client.post("/v1/dead-letters/discard", json=body, headers=admin.headers)
    assert done.status_code == 200, done.text
    assert done.json()["discarded"] == 2 and set(done.json()["job_ids"]) == {str(job) for job in mine}
    assert all(letter.discarded_at is None for letter in letters_of(theirs))

    audit = client.get("/v1/dead-letters", params={"state": "discarded"}, headers=admin.headers).json()
    assert {letter["job_id"] for letter in audit["dead_letters"]} == {str(job) for job in mine}
    assert {letter["discarded_by"] for letter in audit["dead_letters"]} == {f"api:{admin.key_id} (ticket-42)"}
    assert client.get("/v1/dead-letters", headers=admin.headers).json()["total"] == 0

    # `state` wins over the older `replayed=true`
    both = client.get(
        "/v1/dead-letters", params={"state": "discarded", "replayed": "true"}, headers=admin.headers
    )
    assert {letter["job_id"] for letter in both.json()["dead_letters"]} == {str(job) for job in mine}
    reader = make_key(admin.tenant)
    assert client.post("/v1/dead-letters/discard", json={}, headers=reader.headers).status_code == 403
