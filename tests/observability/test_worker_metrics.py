"""A real prefork Celery worker serves the sum of its pool processes' metrics from its main process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

import sie
from bench.processes import celery_worker, free_port, wait_until
from sie.core.engine.backlog import QueueBacklog, queue_backlog
from sie.core.metrics import start_worker_metrics_server
from sie.core.queues import QUEUE_NORMAL, TASK_PROCESS_JOBS
from tests.observability.metrics_probe_app import PIDS_KEY, PROBE_SOURCE, RELEASE_KEY
from tests.observability.support import REPO_ROOT

PROBE_APP = "tests.observability.metrics_probe_app"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def answers(port: int) -> bool:
    try:
        scrape(port)
        return True
    except httpx.HTTPError:
        return False


def leave_previous_runs_file(directory: Path) -> list[Path]:
    """What a pool process of an earlier run left behind: 1000 documents counted for the probe source."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from sie.core import metrics; "
            f"metrics.DOCUMENTS.labels(status='done', source='{PROBE_SOURCE}').inc(1000)",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        check=True,
        timeout=60,
    )
    return sorted(directory.iterdir())


@pytest.fixture
def probe_keys(broker: redis.Redis) -> Iterator[redis.Redis]:
    broker.delete(RELEASE_KEY, PIDS_KEY)
    yield broker
    broker.delete(RELEASE_KEY, PIDS_KEY)


def send_jobs(
    producer: Any, messages: int, jobs_per_message: int = 1, priorities: list[int | None] | None = None
) -> None:
    for index in range(messages):
        job_ids = [f"00000000-0000-0000-0000-{index:06d}{n:06d}" for n in range(jobs_per_message)]
        priority = priorities[index] if priorities else None
        producer.send_task(TASK_PROCESS_JOBS, args=[job_ids], queue=QUEUE_NORMAL, priority=priority)


@pytest.mark.slow
def test_counts_of_every_pool_process_add_up_and_a_previous_run_is_wiped(
    tmp_path: Path, probe_keys: redis.Redis, producer: Any
) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    stale_files = leave_previous_runs_file(metrics_dir)
    assert stale_files
    port = free_port()
    probe_keys.set(RELEASE_KEY, 1)
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_PORT": str(port),
        # Every task in a fresh process: counts must survive the processes that made them.
        "WORKER_MAX_TASKS_PER_CHILD": "1",
    }
    with celery_worker(app=PROBE_APP, env=env, log_path=tmp_path / "worker.log"):
        wait_until(lambda: answers(port), timeout=60, what="the worker's /metrics")
        assert not any(path.exists() for path in stale_files)

        send_jobs(producer, messages=6, jobs_per_message=2)
        wait_until(
            lambda: sample(scrape(port), "sie_documents_total", status="done", source=PROBE_SOURCE) == 12,
            timeout=90,
            what="12 documents counted across the pool",
        )
        samples = scrape(port)
        assert sample(samples, "sie_job_duration_seconds_count", stage="total", outcome="done") == 6
        assert sample(samples, "sie_build_info", version=sie.__version__) == 1
        assert len(probe_keys.smembers(PIDS_KEY)) >= 3


@pytest.mark.slow
def test_messages_a_worker_holds_stay_in_the_backlog_until_acknowledged(
    tmp_path: Path, probe_keys: redis.Redis, producer: Any
) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "METRICS_PORT": "0"}
    send_jobs(producer, messages=5, priorities=[None, 3, 6, 9, 9])
    with celery_worker(app=PROBE_APP, concurrency=2, env=env, log_path=tmp_path / "worker.log"):
        # Two pool processes, one prefetched message each (prefetch multiplier 1): both running.
        wait_until(
            lambda: queue_backlog(probe_keys, [QUEUE_NORMAL])[QUEUE_NORMAL].reserved == 2,
            timeout=60,
            what="the worker to take two messages",
        )
        assert queue_backlog(probe_keys, [QUEUE_NORMAL])[QUEUE_NORMAL] == QueueBacklog(waiting=3, reserved=2)

        probe_keys.set(RELEASE_KEY, 1)
        wait_until(
            lambda: queue_backlog(probe_keys, [QUEUE_NORMAL])[QUEUE_NORMAL].total == 0,
            timeout=60,
            what="every message acknowledged",
        )
    assert len(probe_keys.smembers(PIDS_KEY)) == 2


def test_a_taken_metrics_port_does_not_stop_the_worker() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        assert start_worker_metrics_server(taken.getsockname()[1]) is None
    assert start_worker_metrics_server(0) is None
