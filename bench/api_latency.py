"""Latency of `POST /v1/documents` at a fixed request rate (open loop: requests leave on schedule).

    .venv/bin/python bench/api_latency.py [--rate 100] [--duration 30] [--with-worker]

Prints p50/p95/p99 (measured from when each request was due, so a server that falls behind shows
it), errors, and the API's (and workers') RSS at start and end. With
`--with-worker` real Celery workers drain the queue during the run (the soak setting of issue 8).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import threading
import time
import uuid

from harness import (
    bench_api_key,
    cpu_seconds,
    machine_busy_seconds,
    news_documents,
    rss_mb,
    scratch_environment,
)
from processes import api_process, celery_worker

# Keep-alive connections the generator holds open; a request due while all are busy waits for one.
CONNECTIONS = 64
REQUEST_TIMEOUT_SECONDS = 60.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Connection:
    """One keep-alive HTTP/1.1 connection to the API.

    The generator shares the API's cores, so it speaks plain HTTP/1.1 over asyncio streams: a
    general-purpose client (httpx) spent more CPU per request than the API it measured, and the
    figures said more about the client than the server.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> int:
        """Send one prepared request; the status code of its answer."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(request)
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_SECONDS)
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in header_lines if ": " in line)
            await self.reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection") == "close":
                self.close()
            return int(status_line.split()[1])
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class MemorySampler:
    """The API's RSS every `interval` seconds from a thread, to tell growth from warm-up."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stop.wait(self.interval):
            self.samples.append((time.perf_counter() - started, rss_mb(self.pid)))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def prepared_request(host: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def fire(
    api_url: str, key: str, rate: float, duration: float
) -> tuple[list[float], list[float], dict[str, int]]:
    """Latencies (from when each request was due), waits for a free connection, and outcome counts."""
    host, port = api_url.removeprefix("http://").split(":")
    texts = news_documents(min(int(rate * duration), 5000), seed=11, words=80)
    latencies: list[float] = []
    waits: list[float] = []
    outcomes: dict[str, int] = {}
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        idle.put_nowait(Connection(host, int(port)))

    async def one(index: int, due: float) -> None:
        body = {"text": f"{texts[index % len(texts)]} [{uuid.uuid4().hex}]", "source": "latency-bench"}
        request = prepared_request(host, key, json.dumps(body).encode())
        connection = await idle.get()
        waits.append(time.perf_counter() - due)
        try:
            outcome = str(await connection.post(request))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            outcome = type(exc).__name__
        finally:
            idle.put_nowait(connection)
        # From when the request was due, so time spent waiting to be sent counts too.
        latencies.append(time.perf_counter() - due)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    total = int(rate * duration)
    begin = time.perf_counter()
    tasks = []
    for index in range(total):
        due = begin + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return latencies, waits, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds")
    parser.add_argument("--with-worker", action="store_true", help="real workers drain the queue meanwhile")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn processes")
    args = parser.parse_args()

    with scratch_environment():
        key = bench_api_key()
        uvicorn_args = ["--workers", str(args.api_workers)] if args.api_workers > 1 else []
        with api_process(extra_args=uvicorn_args) as (api_url, api):
            worker_context = celery_worker(concurrency=os.cpu_count() or 2) if args.with_worker else None
            with worker_context or contextlib.nullcontext() as worker:
                time.sleep(3 if worker else 0)
                api_rss_start = rss_mb(api.pid)
                worker_rss_start = rss_mb(worker.pid) if worker else 0.0
                api_cpu_start, busy_start = cpu_seconds(api.pid), machine_busy_seconds()
                started, generator_cpu_start = time.perf_counter(), time.process_time()
                with MemorySampler(api.pid, interval=max(args.duration / 5, 1)) as memory:
                    latencies, waits, outcomes = asyncio.run(fire(api_url, key, args.rate, args.duration))
                wall = time.perf_counter() - started
                api_cpu = cpu_seconds(api.pid) - api_cpu_start
                generator_cpu = time.process_time() - generator_cpu_start
                busy = machine_busy_seconds() - busy_start
                api_rss_end = rss_mb(api.pid)
                worker_rss_end = rss_mb(worker.pid) if worker else 0.0

    errors = sum(count for outcome, count in outcomes.items() if outcome != "202")
    print(f"POST /v1/documents at {args.rate:.0f}/s for {args.duration:.0f} s: {len(latencies)} requests")
    print(
        f"latency ms  p50 {percentile(latencies, 0.50) * 1000:.1f}"
        f"  p95 {percentile(latencies, 0.95) * 1000:.1f}"
        f"  p99 {percentile(latencies, 0.99) * 1000:.1f}  max {max(latencies) * 1000:.1f}"
        f"  mean {statistics.mean(latencies) * 1000:.1f}"
    )
    print(f"outcomes: {outcomes}  errors: {errors}")
    print(
        f"answered {len(latencies) / wall:.1f} requests/s over {wall:.0f} s; "
        f"waited for a free connection: p50 {percentile(waits, 0.50) * 1000:.0f} ms, "
        f"p99 {percentile(waits, 0.99) * 1000:.0f} ms"
    )
    print(
        f"CPU per request: API {api_cpu / len(latencies) * 1000:.1f} ms, "
        f"load generator {generator_cpu / len(latencies) * 1000:.1f} ms; "
        f"machine busy {busy / wall / (os.cpu_count() or 1):.0%} of {os.cpu_count()} cores"
    )
    print(f"API RSS MiB: start {api_rss_start:.0f}, end {api_rss_end:.0f}")
    print("API RSS MiB during the run: " + ", ".join(f"{at:.0f} s {rss:.0f}" for at, rss in memory.samples))
    if args.with_worker:
        print(f"worker RSS MiB (all processes): start {worker_rss_start:.0f}, end {worker_rss_end:.0f}")


if __name__ == "__main__":
    main()
