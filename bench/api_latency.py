"""Latency and CPU cost of accepting documents at fixed request rates (open loop: requests leave on time).

    .venv/bin/python bench/api_latency.py [--rates 50,100,200] [--duration 30] [--api-workers 1]
                                          [--with-worker] [--batch-seconds 10] [--profile-seconds 10]

On one API (and its own scratch database and Redis db), in turn:
- `POST /v1/documents` at each rate: p50/p95/p99 (measured from when each request was due, so a
  server that falls behind shows it), errors, and the CPU each request cost the API and the load
  generator;
- `POST /v1/documents/batch` with 100 documents a request: the API's CPU per document;
- a sampling profile (py-spy, threads holding the GIL) of the API under single-document load: the
  top 10 functions by CPU, and the top 10 of SIE's own functions with what they call.
A short warm-up comes first, so a first request's imports are not counted. `--rate 100` runs one rate.
With `--with-worker` real Celery workers drain the queue meanwhile (the soak setting of issue 8).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from harness import (
    Profile,
    bench_api_key,
    command_cpu_seconds,
    cpu_seconds,
    machine_busy_seconds,
    news_documents,
    rss_mb,
    sampled,
    scratch_environment,
)
from processes import api_process, celery_worker

# Keep-alive connections the generator holds open; a request due while all are busy waits for one.
CONNECTIONS = 64
REQUEST_TIMEOUT_SECONDS = 60.0
WARM_UP_SECONDS = 3.0
PROFILE_RATE = 100.0
TOP = 10
# The services the API uses (all their processes: on a shared machine, other users' work too).
SERVICES = ("postgres", "redis-server")
# Frames of SIE's own code, for the profile's second table.
SIE_FRAMES = ("sie/", "sie_api/")


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


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    key: str


def prepared_request(target: Target, path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {target.host}\r\nX-API-Key: {target.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


# Builds the request with the given index (each one new content, so none is a duplicate).
RequestMaker = Callable[[int], bytes]


def single_documents(target: Target, count: int) -> RequestMaker:
    texts = news_documents(min(count, 5000), seed=11, words=80)

    def make(index: int) -> bytes:
        text = f"{texts[index % len(texts)]} [{uuid.uuid4().hex}]"
        return prepared_request(target, "/v1/documents", {"text": text, "source": "latency-bench"})

    return make


def document_batches(target: Target, size: int) -> RequestMaker:
    texts = news_documents(size, seed=13, words=80)

    def make(_: int) -> bytes:
        run = uuid.uuid4().hex
        documents = [{"text": f"{text} [{run}]", "source": "latency-bench"} for text in texts]
        return prepared_request(target, "/v1/documents/batch", {"documents": documents})

    return make


@dataclass
class Step:
    """One run at a fixed rate: what each request saw, and what the API and generator spent."""

    label: str
    rate: float
    latencies: list[float]
    waits: list[float]
    outcomes: dict[str, int]
    wall: float
    api_cpu: float
    generator_cpu: float
    services_cpu: float
    busy: float
    items_per_request: int = 1

    @property
    def errors(self) -> int:
        return sum(count for outcome, count in self.outcomes.items() if outcome != "202")

    def ms(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) * 1000

    def cpu_ms(self, seconds: float) -> float:
        return seconds / (len(self.latencies) * self.items_per_request) * 1000


async def fire(
    target: Target, make: RequestMaker, rate: float, duration: float
) -> tuple[list[float], list[float], dict[str, int]]:
    """Latencies (from when each request was due), waits for a free connection, and outcome counts."""
    latencies: list[float] = []
    waits: list[float] = []
    outcomes: dict[str, int] = {}
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        idle.put_nowait(Connection(target.host, target.port))

    async def one(index: int, due: float) -> None:
        request = make(index)
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

    total = max(1, int(rate * duration))
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


def run_step(
    label: str, target: Target, api_pid: int, make: RequestMaker, rate: float, duration: float, items: int = 1
) -> Step:
    # No cyclic garbage collection in the generator while it fires: its full collections (60-90 ms
    # once its lists grew) held back the requests due meanwhile, and showed up as the API's latency.
    gc.collect()
    api_cpu, services, busy, started, generator_cpu = (
        cpu_seconds(api_pid),
        command_cpu_seconds(SERVICES),
        machine_busy_seconds(),
        time.perf_counter(),
        time.process_time(),
    )
    gc.disable()
    try:
        latencies, waits, outcomes = asyncio.run(fire(target, make, rate, duration))
    finally:
        gc.enable()
    return Step(
        label,
        rate,
        latencies,
        waits,
        outcomes,
        wall=time.perf_counter() - started,
        api_cpu=cpu_seconds(api_pid) - api_cpu,
        generator_cpu=time.process_time() - generator_cpu,
        services_cpu=command_cpu_seconds(SERVICES) - services,
        busy=machine_busy_seconds() - busy,
        items_per_request=items,
    )


def print_step(step: Step) -> None:
    cores = os.cpu_count() or 1
    unit = "document" if step.items_per_request > 1 else "request"
    print(
        f"{step.label} at {step.rate:g}/s: {len(step.latencies)} requests, {step.errors} errors "
        f"{step.outcomes if step.errors else ''}"
    )
    print(
        f"  latency ms  p50 {step.ms(0.50):.1f}  p95 {step.ms(0.95):.1f}  p99 {step.ms(0.99):.1f}"
        f"  max {max(step.latencies) * 1000:.1f}  mean {statistics.mean(step.latencies) * 1000:.1f}"
    )
    print(
        f"  CPU per {unit}: API {step.cpu_ms(step.api_cpu):.2f} ms, "
        f"load generator {step.cpu_ms(step.generator_cpu):.2f} ms, "
        f"PostgreSQL and Redis {step.cpu_ms(step.services_cpu):.2f} ms; "
        f"answered {len(step.latencies) / step.wall:.1f} requests/s; "
        f"waited for a free connection: p99 {percentile(step.waits, 0.99) * 1000:.0f} ms"
    )
    others = step.busy - step.api_cpu - step.generator_cpu - step.services_cpu
    print(
        f"  machine busy {step.busy / step.wall / cores:.0%} of {cores} cores; "
        f"other processes used {max(others, 0) / step.wall:.2f} cores meanwhile"
    )


def print_profile(profile: Profile, step: Step | None) -> None:
    """The profile's top functions: their share of the samples, and that share of the API's CPU per
    request measured meanwhile (py-spy does not keep its nominal rate on a busy machine)."""
    if profile.error or step is None:
        print(f"profile: {profile.error or 'no profiled step'}")
        return
    cpu_ms = step.cpu_ms(step.api_cpu)
    print(
        f"profile: py-spy, {profile.samples} samples of the API's threads holding the GIL, "
        f"during {len(step.latencies)} requests at {step.rate:g}/s ({cpu_ms:.2f} ms of API CPU each)"
    )
    for title, rows in (
        (f"top {TOP} functions by CPU (self)", profile.top_self(TOP)),
        (f"top {TOP} SIE functions with what they call", profile.top_inclusive(TOP, SIE_FRAMES)),
    ):
        print(f"  {title}:")
        for frame, seen in rows:
            share = seen / profile.samples
            print(f"    {share:6.1%} ≈{share * cpu_ms:6.3f} ms/req  {frame}")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second (one rate)")
    parser.add_argument("--rates", help="comma-separated rates run in turn, e.g. 50,100,200 (over --rate)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds at each rate")
    parser.add_argument("--with-worker", action="store_true", help="real workers drain the queue meanwhile")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--batch-seconds", type=float, default=10.0, help="batch phase length (0: none)")
    parser.add_argument("--batch-size", type=int, default=100, help="documents per batch request")
    parser.add_argument("--batch-rate", type=float, default=2.0, help="batch requests per second")
    parser.add_argument("--profile-seconds", type=float, default=10.0, help="profiled phase (0: none)")
    arguments = parser.parse_args()
    arguments.rate_list = [float(rate) for rate in (arguments.rates or str(arguments.rate)).split(",")]
    return arguments


def measure(arguments: argparse.Namespace, target: Target, api_pid: int) -> tuple[list[Step], Profile]:
    """Warm-up, each rate, the batch phase and the profiled phase, one after the other."""
    single = single_documents(target, int(max(arguments.rate_list) * arguments.duration))
    run_step("warm-up", target, api_pid, single, 50, WARM_UP_SECONDS)
    steps = [
        run_step("POST /v1/documents", target, api_pid, single, rate, arguments.duration)
        for rate in arguments.rate_list
    ]
    if arguments.batch_seconds > 0:
        batches = document_batches(target, arguments.batch_size)
        steps.append(
            run_step(
                f"POST /v1/documents/batch ({arguments.batch_size} documents)",
                target,
                api_pid,
                batches,
                arguments.batch_rate,
                arguments.batch_seconds,
                items=arguments.batch_size,
            )
        )
    profile = Profile(stacks=Counter(), rate=0, error="not asked for")
    if arguments.profile_seconds > 0:
        with sampled(api_pid, subprocesses=arguments.api_workers > 1) as profile:
            steps.append(
                run_step("profiled", target, api_pid, single, PROFILE_RATE, arguments.profile_seconds)
            )
    return steps, profile


def main() -> None:
    arguments = parse_arguments()
    with scratch_environment():
        key = bench_api_key()
        uvicorn_args = ["--workers", str(arguments.api_workers)] if arguments.api_workers > 1 else []
        with api_process(extra_args=uvicorn_args) as (api_url, api):
            host, port = api_url.removeprefix("http://").split(":")
            target = Target(host, int(port), key)
            worker_context = celery_worker(concurrency=os.cpu_count() or 2) if arguments.with_worker else None
            with worker_context or contextlib.nullcontext() as worker:
                time.sleep(3 if worker else 0)
                api_rss_start = rss_mb(api.pid)
                worker_rss_start = rss_mb(worker.pid) if worker else 0.0
                with MemorySampler(api.pid, interval=max(arguments.duration / 5, 1)) as memory:
                    steps, profile = measure(arguments, target, api.pid)
                api_rss_end = rss_mb(api.pid)
                worker_rss_end = rss_mb(worker.pid) if worker else 0.0

    print(
        f"API: {arguments.api_workers} process(es); "
        f"{'workers draining' if arguments.with_worker else 'no workers'}; {os.cpu_count()} cores"
    )
    for step in steps:
        print_step(step)
    print_profile(profile, next((step for step in steps if step.label == "profiled"), None))
    print(f"API RSS MiB: start {api_rss_start:.0f}, end {api_rss_end:.0f}")
    print("API RSS MiB during the run: " + ", ".join(f"{at:.0f} s {rss:.0f}" for at, rss in memory.samples))
    if arguments.with_worker:
        print(f"worker RSS MiB (all processes): start {worker_rss_start:.0f}, end {worker_rss_end:.0f}")


if __name__ == "__main__":
    main()
