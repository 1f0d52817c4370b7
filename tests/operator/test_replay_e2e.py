"""DeadLetterReplay end to end: 200 dead jobs in PostgreSQL, replayed through the real API at 50/s."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from sie_operator.status import parse_time

from bench.dead_jobs import job_statuses, make_dead_jobs, pending_letters
from sie.core.engine.backlog import priority_lists
from sie.core.queues import DEAD_LETTER_LIST, QUEUE_NORMAL
from tests.operator.conftest import eventually, new_object, object_url, resource_status

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture
def tenant(redis_client: redis.Redis) -> Iterator[str]:
    # Other tests' dead letters may stay listed: the API's relay mirrors the durable records.
    keys = priority_lists(QUEUE_NORMAL)
    redis_client.delete(*keys)
    yield f"replay-{uuid.uuid4().hex[:8]}"
    redis_client.delete(*keys)


def queued_job_ids(client: redis.Redis) -> list[str]:
    """Job ids in the Celery messages waiting on the normal queue (no worker takes them here)."""
    ids: list[str] = []
    for key in priority_lists(QUEUE_NORMAL):
        for raw in client.lrange(key, 0, -1):
            args, _kwargs, _embed = json.loads(base64.b64decode(json.loads(raw)["body"]))
            ids.extend(args[0])
    return ids


def listed_job_ids(client: redis.Redis) -> set[str]:
    """Job ids in the `dead_letter` list the runbook reads."""
    return {json.loads(entry)["job_id"] for entry in client.lrange(DEAD_LETTER_LIST, 0, -1)}


async def test_replay_moves_200_dead_jobs_back_at_the_declared_rate(
    k8s: Any, operator: Any, tenant: str, redis_client: redis.Redis, api_url: str, system_key: Any
) -> None:
    job_ids = await asyncio.to_thread(make_dead_jobs, tenant, 200)
    ours = {str(job_id) for job_id in job_ids}
    assert ours <= listed_job_ids(redis_client)
    replay = new_object(
        "deadletterreplays",
        "replay-timeouts",
        {
            "selector": {"tenant": tenant, "queue": QUEUE_NORMAL, "errorContains": "timed out"},
            "maxJobs": 1000,
            "ratePerSecond": 50,
        },
    )
    await k8s.post(object_url("deadletterreplays"), json=replay)

    status = await eventually(
        lambda: (
            (s := resource_status(k8s, "deadletterreplays", "replay-timeouts")).get("phase") == "Succeeded"
            and s
        ),
        timeout=30,
        what="the replay to succeed",
    )
    assert (status["matched"], status["replayed"], status["failed"]) == (200, 200, 0)
    seconds = (parse_time(status["completedAt"]) - parse_time(status["startedAt"])).total_seconds()
    assert 3 <= seconds <= 7, f"200 jobs at 50/s took {seconds}s"

    assert await asyncio.to_thread(job_statuses, job_ids) == {"pending": 200}
    queued = Counter(queued_job_ids(redis_client))
    counts = Counter(queued[str(job_id)] for job_id in job_ids)
    assert counts == {1: 200}, f"each job back on its queue once; times queued: {counts}"
    assert not ours & listed_job_ids(redis_client)
    assert await asyncio.to_thread(pending_letters, tenant) == 0

    # The audit trail names the key and this very resource for each job.
    label = f"operator:sie-test/replay-timeouts/{replay['metadata']['uid']}"
    audit = httpx.get(
        f"{api_url}/v1/dead-letters",
        params={"replayed": "true", "replayed_by": label, "tenant": tenant, "limit": 1000},
        headers=system_key.headers,
    ).json()
    assert audit["total"] == 200
    assert all(label in letter["replayed_by"] and letter["replayed_at"] for letter in audit["dead_letters"])
    assert {letter["job_id"] for letter in audit["dead_letters"]} == {str(job_id) for job_id in job_ids}


async def test_dry_run_counts_and_samples_but_moves_nothing(
    k8s: Any, operator: Any, tenant: str, redis_client: redis.Redis
) -> None:
    job_ids = await asyncio.to_thread(make_dead_jobs, tenant, 30)
    replay = new_object("deadletterreplays", "look-first", {"selector": {"tenant": tenant}, "dryRun": True})
    await k8s.post(object_url("deadletterreplays"), json=replay)

    status = await eventually(
        lambda: (
            (s := resource_status(k8s, "deadletterreplays", "look-first")).get("phase") == "Succeeded" and s
        ),
        timeout=20,
        what="the dry run to finish",
    )
    assert status["matched"] == 30 and status["replayed"] == 0
    assert len(status["sample"]) == 10
    assert {entry["jobId"] for entry in status["sample"]} <= {str(job_id) for job_id in job_ids}
    assert all("timed out" in entry["error"] for entry in status["sample"])
    assert await asyncio.to_thread(job_statuses, job_ids) == {"dead": 30}
    assert {str(job_id) for job_id in job_ids} <= listed_job_ids(redis_client)
    assert not set(queued_job_ids(redis_client)) & {str(job_id) for job_id in job_ids}
