"""The operator's reaction times and replay rates, on kmock + the real API, Redis and PostgreSQL.

1. Scale latency: seconds from the moment a queue's backlog crosses a WorkerScaler's threshold
   (more than backlogPerReplica x replicas) to the operator's patch of the Deployment's scale,
   with a 2 s poll interval (goal <= 5 s; KEDA's default polling alone is 30 s). Several trials.
2. Replay rate: a DeadLetterReplay of dead jobs at a declared rate, measured from the engine's own
   `replayed_at` stamps (goal: within +-10% of the declared rate), then one with no rate
   (goal: >= 500 jobs/s).

    .venv/bin/python bench/operator.py [--trials 5] [--rate 100] [--jobs 500] [--unthrottled-jobs 5000]

Everything runs on this machine and talks only to 127.0.0.1.
"""

from __future__ import annotations

import sys

# This file is named like the standard library's `operator`, which half the standard library imports:
# move its folder from the front of the path to the back before anything else is imported.
sys.path.append(sys.path.pop(0))

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from harness import bench_api_key, scratch_environment
from kube_mock import GROUP_VERSION, declare_sie_resources, write_kubeconfig
from processes import api_server

NAMESPACE = "bench"
DEPLOYMENT = "sie-worker"


async def until(probe: Any, timeout: float, interval: float = 0.005) -> float:
    """Poll `probe()` until true; returns the perf_counter time it first was."""
    deadline = time.perf_counter() + timeout
    while not probe():
        if time.perf_counter() > deadline:
            raise TimeoutError("the operator did not react in time")
        await asyncio.sleep(interval)
    return time.perf_counter()


def resource(kind: str, plural: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": str(uuid.uuid4()), "resourceVersion": "1"},
        "spec": spec,
    }


async def scale_latency(k8s: Any, trials: int) -> list[float]:
    from sie.core.engine.backlog import priority_lists
    from sie.core.engine.queue import celery_producer
    from sie.core.queues import QUEUE_NORMAL, TASK_PROCESS_JOBS
    from sie.core.redis import redis_client

    deployment = ("apps/v1/deployments", NAMESPACE, DEPLOYMENT)
    k8s.objects[deployment] = {
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "uid": "d", "resourceVersion": "1"},
        "spec": {"replicas": 1},
    }
    spec = {
        "targetRef": {"name": DEPLOYMENT},
        "queues": [QUEUE_NORMAL],
        "minReplicas": 1,
        "maxReplicas": 10,
        "backlogPerReplica": 50,
        "pollIntervalSeconds": 2,
        "scaleUp": {"stabilizationWindowSeconds": 0, "maxStep": 10},
        "scaleDown": {"stabilizationWindowSeconds": 0, "maxStep": 10},
    }
    await k8s.post(
        f"/apis/{GROUP_VERSION}/namespaces/{NAMESPACE}/workerscalers",
        json=resource("WorkerScaler", "workerscalers", "workers", spec),
    )
    producer = celery_producer()
    latencies = []
    for _ in range(trials):
        await until(lambda: k8s.objects[deployment]["spec"]["replicas"] == 1, timeout=30)
        await asyncio.sleep(2.0 * (0.25 + 0.5 * len(latencies) / max(trials, 1)))  # vary the poll phase
        # Exactly one message over the threshold of one replica (50): crossed when the last lands.
        for _ in range(51):
            producer.send_task(TASK_PROCESS_JOBS, args=[[str(uuid.uuid4())]], queue=QUEUE_NORMAL)
        crossed = time.perf_counter()
        patched = await until(lambda: k8s.objects[deployment]["spec"]["replicas"] > 1, timeout=30)
        latencies.append(patched - crossed)
        redis_client().delete(*priority_lists(QUEUE_NORMAL))  # drained: back to one replica
    return latencies


async def replay_rate(k8s: Any, name: str, jobs: int, rate: int | None) -> tuple[float, float]:
    """(achieved jobs/s from the engine's replayed_at stamps, wall seconds to Succeeded)."""
    from dead_jobs import make_dead_jobs
    from sqlalchemy import func, select

    from sie.core.db import session_scope
    from sie.core.models import DeadLetter

    tenant = f"bench-{name}"
    await asyncio.to_thread(make_dead_jobs, tenant, jobs)
    spec: dict[str, Any] = {"selector": {"tenant": tenant}, "maxJobs": jobs}
    if rate is not None:
        spec["ratePerSecond"] = rate
    started = time.perf_counter()
    await k8s.post(
        f"/apis/{GROUP_VERSION}/namespaces/{NAMESPACE}/deadletterreplays",
        json=resource("DeadLetterReplay", "deadletterreplays", name, spec),
    )
    key = (f"{GROUP_VERSION}/deadletterreplays", NAMESPACE, name)
    done = await until(
        lambda: k8s.objects[key].get("status", {}).get("phase") == "Succeeded", timeout=600, interval=0.05
    )
    with session_scope() as session:
        first, last, replayed = session.execute(
            select(func.min(DeadLetter.replayed_at), func.max(DeadLetter.replayed_at), func.count()).where(
                DeadLetter.tenant == tenant, DeadLetter.replayed_at.is_not(None)
            )
        ).one()
        first_batch = session.scalar(
            select(func.count()).where(DeadLetter.tenant == tenant, DeadLetter.replayed_at == first)
        )
    assert replayed == jobs, f"{replayed} of {jobs} replayed"
    # The first request's jobs start the clock; the rest arrive over (last - first).
    achieved = (replayed - first_batch) / max((last - first).total_seconds(), 1e-6)
    return achieved, done - started


async def bench(args: argparse.Namespace) -> None:
    import kmock
    import sie_operator.handlers  # noqa: F401  (imported here, not concurrently by kopf's thread)
    from kopf.testing import KopfRunner
    from pydantic import SecretStr

    from sie.core.config import settings
    from sie.core.security import SYSTEM_SCOPES, create_api_key

    async with (
        kmock.KubernetesEmulator() as k8s,
        kmock.Server(k8s),
        tempfile.TemporaryDirectory(prefix="sie-bench-") as config_dir,
    ):
        declare_sie_resources(k8s)
        import kubernetes

        config = write_kubeconfig(Path(config_dir) / "kubeconfig", k8s.url)
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(config)
        from sie.core.db import session_scope

        with session_scope() as session:
            _, key = create_api_key(session, tenant="operator", scopes=SYSTEM_SCOPES)
        bench_api_key()
        with api_server() as url:
            settings.sie_api_url = url
            settings.sie_admin_api_key = SecretStr(key)
            runner = KopfRunner(
                ["run", "--standalone", "-A", "-m", "sie_operator.handlers", "--quiet"], timeout=60
            )
            await asyncio.to_thread(runner.__enter__)
            # click's runner swaps sys.stdout while the operator runs: report after it stops.
            report = []
            try:
                latencies = await scale_latency(k8s, args.trials)
                report += [
                    f"scale latency, poll 2 s, {args.trials} trials (goal <= 5 s):",
                    f"  median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s, "
                    f"all: {', '.join(f'{value:.2f}' for value in latencies)}",
                ]
                achieved, wall = await replay_rate(k8s, "paced", args.jobs, args.rate)
                error = (achieved - args.rate) / args.rate * 100
                report += [
                    f"replay of {args.jobs} jobs at {args.rate}/s (goal within +-10%):",
                    f"  achieved {achieved:.1f} jobs/s ({error:+.1f}%), {wall:.2f} s from apply to Succeeded",
                ]
                achieved, wall = await replay_rate(k8s, "unthrottled", args.unthrottled_jobs, None)
                report += [
                    f"replay of {args.unthrottled_jobs} jobs, no rate (goal >= 500 jobs/s):",
                    f"  achieved {achieved:.0f} jobs/s, {wall:.2f} s from apply to Succeeded",
                ]
            finally:
                await asyncio.to_thread(runner.__exit__, None, None, None)
                print("\n".join(report))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--unthrottled-jobs", type=int, default=5000)
    args = parser.parse_args()
    with scratch_environment():
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
