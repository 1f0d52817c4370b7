"""WorkerScaler end to end: real Redis queues (Celery messages, no worker), kmock's Deployment scale."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bench.dead_jobs import make_dead_jobs
from sie.core.engine.backlog import priority_lists
from sie.core.engine.queue import celery_producer
from sie.core.queues import DEAD_LETTER_LIST, QUEUE_NORMAL, TASK_PROCESS_JOBS
from tests.operator.conftest import NAMESPACE, condition, eventually, new_object, object_url, resource_status

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

DEPLOYMENT = "sie-worker"
SCALER_SPEC = {
    "targetRef": {"name": DEPLOYMENT},
    "queues": [QUEUE_NORMAL],
    "minReplicas": 1,
    "maxReplicas": 4,
    "backlogPerReplica": 100,
    "pollIntervalSeconds": 1,
    "scaleUp": {"stabilizationWindowSeconds": 0, "maxStep": 10},
    "scaleDown": {"stabilizationWindowSeconds": 3, "maxStep": 10},
    "deadLetterGuard": {"maxGrowthPerMinute": 20},
}


@pytest.fixture
def empty_queues(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    # The dead-letter list stays: the API's relay keeps it equal to the durable records.
    keys = priority_lists(QUEUE_NORMAL)
    redis_client.delete(*keys)
    yield redis_client
    redis_client.delete(*keys)


def push_jobs(count: int) -> None:
    """What the API does on ingest, minus the database: Celery messages on the queue, no worker."""
    producer = celery_producer()
    for _ in range(count):
        producer.send_task(TASK_PROCESS_JOBS, args=[[str(uuid.uuid4())]], queue=QUEUE_NORMAL)


def replicas(k8s: Any) -> int:
    return int(k8s.objects["apps/v1/deployments", NAMESPACE, DEPLOYMENT]["spec"]["replicas"])


async def start_scaler(k8s: Any) -> None:
    k8s.objects["apps/v1/deployments", NAMESPACE, DEPLOYMENT] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "uid": "d1", "resourceVersion": "1"},
        "spec": {"replicas": 1},
        "status": {"replicas": 1},
    }
    scaler = new_object(
        "workerscalers", "workers", SCALER_SPEC, labels={"app.kubernetes.io/component": "worker"}
    )
    await k8s.post(object_url("workerscalers"), json=scaler)
    await eventually(
        lambda: resource_status(k8s, "workerscalers", "workers").get("backlog") == 0,
        timeout=20,
        what="the first poll",
    )


async def test_backlog_scales_up_within_bounds_and_back_down_after_the_window(
    k8s: Any, operator: Any, empty_queues: redis.Redis
) -> None:
    await start_scaler(k8s)
    await asyncio.to_thread(push_jobs, 500)

    await eventually(lambda: replicas(k8s) > 1, timeout=15, what="a scale-up")
    await eventually(lambda: replicas(k8s) == 4, timeout=10, what="max replicas")
    status = await eventually(
        lambda: (s := resource_status(k8s, "workerscalers", "workers")).get("backlog") == 500 and s,
        timeout=10,
        what="a poll that sees all 500 messages",
    )
    assert status["recommendedReplicas"] == 4  # 500 / 100 = 5, clamped to maxReplicas
    assert status["lastDecision"]["reason"] in ("ScaleUp", "Steady")
    await asyncio.sleep(2.5)
    assert replicas(k8s) == 4, "never above maxReplicas"

    empty_queues.delete(*priority_lists(QUEUE_NORMAL))  # the workers drained the queue
    drained_at = asyncio.get_running_loop().time()
    await eventually(lambda: replicas(k8s) == 1, timeout=20, what="the scale-down to minReplicas")
    waited = asyncio.get_running_loop().time() - drained_at
    assert waited >= 2.5, f"scaled down after {waited:.1f}s, inside the 3 s stabilization window"
    assert resource_status(k8s, "workerscalers", "workers")["lastDecision"]["reason"] in (
        "ScaleDown",
        "Steady",
    )


async def test_growing_dead_letter_queue_blocks_the_scale_up_and_says_so(
    k8s: Any, operator: Any, empty_queues: redis.Redis
) -> None:
    await start_scaler(k8s)
    before = empty_queues.llen(DEAD_LETTER_LIST)
    # Jobs are dying fast: 100 new dead letters in a moment, while the backlog asks for more workers.
    await asyncio.to_thread(make_dead_jobs, f"dying-{uuid.uuid4().hex[:8]}", 100)
    await asyncio.to_thread(push_jobs, 500)

    status = await eventually(
        lambda: (s := resource_status(k8s, "workerscalers", "workers")).get("backlog") == 500 and s,
        timeout=15,
        what="a poll that sees the backlog",
    )
    await asyncio.sleep(2.5)
    status = resource_status(k8s, "workerscalers", "workers")
    assert replicas(k8s) == 1
    assert condition(status, "DeadLettersGrowing")["status"] == "True"
    assert status["lastDecision"]["reason"] == "DeadLettersGrowing"
    assert status["deadLetters"] == before + 100
    events = [
        event
        for (resource, namespace, _), event in k8s.objects.items()
        if str(resource).startswith("v1/events") or getattr(resource, "plural", "") == "events"
    ]
    assert any(event.get("reason") == "DeadLettersGrowing" for event in events), events
