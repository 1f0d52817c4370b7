"""Real service processes for end-to-end tests and benchmarks: the API under uvicorn and Celery workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_QUEUES = "ingestion.high,ingestion,ingestion.low"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _run_module(
    module: str,
    args: list[str],
    *,
    env: dict[str, str] | None,
    log: IO[bytes],
    start_new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """`python -m <module> <args>` from the repository root, `env` over ours, all output to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=start_new_session,
    )


def answers_ok(url: str, *, timeout: float = 1.0) -> bool:
    """Whether a GET of `url` answers 200 (a server that is still starting does not answer at all)."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def api_process(
    env: dict[str, str] | None = None, log_path: Path | None = None, extra_args: list[str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`uvicorn sie_api.main:app` on a free loopback port; yields its base URL and the process."""
    port = free_port()
    log = open(log_path or os.devnull, "wb")  # noqa: SIM115 - closed below
    process = _run_module(
        "uvicorn",
        [
            "sie_api.main:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            *(extra_args or []),
        ],
        env=env,
        log=log,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers_ok(f"{base_url}/livez"), timeout=60, what="the API to start")
        yield base_url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def api_server(env: dict[str, str] | None = None, log_path: Path | None = None) -> Iterator[str]:
    """The API in its own process; yields its base URL."""
    with api_process(env, log_path) as (base_url, _):
        yield base_url


@contextmanager
def celery_worker(
    *,
    concurrency: int = 2,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    queues: str = WORKER_QUEUES,
    app: str = "sie_worker.celery_app",
) -> Iterator[subprocess.Popen[bytes]]:
    """The plain `celery -A sie_worker.celery_app worker` command, as operators run it."""
    log = open(log_path or os.devnull, "wb")  # noqa: SIM115 - closed below
    node_name = f"e2e-{os.getpid()}-{time.monotonic_ns()}@%h"
    process = _run_module(
        "celery",
        [
            "-A", app, "worker", "-Q", queues, "-c", str(concurrency), "--pool", "prefork",
            "--without-gossip", "--without-mingle", "--loglevel", "INFO", "-n", node_name,
        ],
        env=env,
        log=log,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (the Celery pool's worker processes)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children_file = task / "children"
        if children_file.exists():
            children.extend(int(child) for child in children_file.read_text().split())
    return children
