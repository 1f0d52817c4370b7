"""Private PostgreSQL and Redis for fault injection, and the SIE processes that run on them.

Other people's tests use the machine's PostgreSQL (5432) and Redis (6379) at the same time, so
faults are never injected there. Each fault test gets its own `redis-server` on a free loopback
port and a database in a PostgreSQL cluster that this test session creates with `initdb`; they
are started with the same binaries and the same commands as the machine's own services
(`redis-server`, `pg_ctl start|stop`), and stopped and started again to make an outage.

Both require a password (`requirepass`, scram-sha-256 over TCP), so every process's connection
URLs carry one, and the log scans can prove it never reaches a log line.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import psycopg
import redis
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from bench.processes import REPO_ROOT, api_process, celery_worker, free_port, wait_until
from sie.core.models import Job
from tests.utils.api import TestKey, add_key
from tests.utils.postgres_user import run_as_postgres

SIE_COMMAND = str(Path(sys.executable).with_name("sie"))


def _postgres_bin_dir() -> Path:
    if pg_config := shutil.which("pg_config"):
        candidate = Path(
            subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        )
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return found[-1].parent


class PrivatePostgres:
    """A PostgreSQL cluster of this test session, in a temporary directory, on a free port.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
    """

    def __init__(self) -> None:
        self.bin_dir = _postgres_bin_dir()
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.directory = Path(tempfile.mkdtemp(prefix="sie-reliability-pg-"))
        self.data = self.directory / "data"
        self.log_file = self.directory / "postgres.log"
        self._as_owner = run_as_postgres(self.directory)

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_owner, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        password_file = self.directory / "password"
        password_file.write_text(self.password)
        if self._as_owner:
            owner = pwd.getpwnam("postgres")
            os.chown(password_file, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
            "--no-sync",
        )
        password_file.unlink()
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log_file),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"sie_rel_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


class PrivateRedis:
    """A `redis-server` of one test, on a free loopback port, with no persistence: a restart empties it."""

    def __init__(self, log_file: Path) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5, decode_responses=True)

    def start(self) -> None:
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--requirepass",
                self.password,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = self.client()

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(answers, timeout=20, what="the private redis-server to answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


class TcpGate:
    """A loopback TCP forwarder to `target`, to close (connections refused) and open again on one port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        for sock in [listener, *connections]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Stack:
    """One test's database and Redis, the environment of its SIE processes, and their logs."""

    postgres: PrivatePostgres
    redis: PrivateRedis
    database: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(
            self.postgres.url(self.database).replace("postgresql://", "postgresql+psycopg://"),
            pool_pre_ping=True,
            connect_args={"connect_timeout": 5},
        )

    @property
    def env(self) -> dict[str, str]:
        """What every SIE process of this stack runs with (plus the session's API_SECRET_KEY)."""
        return {
            "DATABASE_URL": self.postgres.url(self.database),
            "REDIS_URL": self.redis.url,
            "SEARCH_BACKEND": "database",
            "LOG_LEVEL": "info",
            # Fast relay cycles, so recovery is measured in seconds.
            "RELAY_INTERVAL_SECONDS": "1",
            "RELAY_GRACE_SECONDS": "2",
            "METRICS_PORT": "0",
            **self.extra_env,
        }

    def migrate(self) -> None:
        subprocess.run(
            [SIE_COMMAND, "migrate"],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
            timeout=180,
        )

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def make_key(self, tenant: str | None = None, *, admin: bool = False) -> TestKey:
        with self.session() as session, session.begin():
            return add_key(session, tenant, admin=admin)

    def job_statuses(self, tenant: str) -> dict[str, int]:
        with self.session() as session:
            rows = session.execute(
                select(Job.status, func.count()).where(Job.tenant == tenant).group_by(Job.status)
            ).all()
        return {status: count for status, count in rows}

    @contextlib.contextmanager
    def api(self, name: str = "api", env: dict[str, str] | None = None) -> Iterator[tuple[str, Any]]:
        with api_process(env={**self.env, **(env or {})}, log_path=self.log_dir / f"{name}.log") as running:
            yield running

    @contextlib.contextmanager
    def worker(
        self, name: str = "worker", env: dict[str, str] | None = None, **options: Any
    ) -> Iterator[subprocess.Popen[bytes]]:
        with celery_worker(
            env={**self.env, **(env or {})}, log_path=self.log_dir / f"{name}.log", **options
        ) as process:
            yield process

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log")))

    def log_events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines of one process (`worker` for worker.log), in order."""
        events = []
        for line in (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    events.append(json.loads(line))
        return events

    def secrets(self) -> dict[str, str]:
        """What must never appear in a log line of this stack's processes."""
        from sie.core.config import settings

        return {
            "PostgreSQL password": self.postgres.password,
            "Redis password": self.redis.password,
            "API_SECRET_KEY": settings.api_secret_key,
        }

    def dispose(self) -> None:
        self.engine.dispose()


def kill_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and its whole pool at once, as a node failure or the OOM killer would."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@dataclass
class Outcome:
    at: float
    status: int | None
    retry_after: str | None
    job_id: str | None
    error: str | None = None


class SteadyIngest:
    """Posts one new document every `interval` seconds from a thread, recording every answer.

    Timeouts are generous: a request that never gets an answer is a failure, recorded as an error.
    """

    def __init__(self, api_url: str, key: TestKey, *, interval: float = 0.1) -> None:
        self.api_url = api_url
        self.key = key
        self.interval = interval
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-ingest", daemon=True)

    def __enter__(self) -> SteadyIngest:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.api_url, headers=self.key.headers, timeout=30) as client:
            index = 0
            while not self._stop.wait(self.interval):
                index += 1
                text = f"Steady report {index} ({uuid.uuid4().hex}): the harbour in Lisbon reopened today."
                at = time.monotonic()
                try:
                    response = client.post("/v1/documents", json={"text": text, "source": "steady"})
                except httpx.HTTPError as exc:
                    self.outcomes.append(Outcome(at, None, None, None, f"{type(exc).__name__}: {exc}"))
                    continue
                body = response.json() if response.headers.get("content-type") == "application/json" else {}
                self.outcomes.append(
                    Outcome(at, response.status_code, response.headers.get("retry-after"), body.get("job_id"))
                )

    def accepted_job_ids(self) -> set[uuid.UUID]:
        return {
            uuid.UUID(outcome.job_id) for outcome in self.outcomes if outcome.status == 202 and outcome.job_id
        }

    def statuses(self) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def between(self, start: float, end: float) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if start <= outcome.at <= end]


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


# Documents posted at once before an outage, so it hits a busy worker holding unacknowledged messages.
OUTAGE_BACKLOG = 320


@dataclass
class OutageRun:
    """What an ingest saw through one outage of a service."""

    ingest: SteadyIngest
    accepted: set[uuid.UUID]
    start: float
    end: float
    health_during: Any
    recovered_after: float

    def during(self) -> list[Outcome]:
        return self.ingest.between(self.start, self.end)

    def summary(self, service: str) -> str:
        return (
            f"answers: {self.ingest.statuses()}; during the outage: "
            f"{sorted({outcome.status for outcome in self.during()}, key=str)}; "
            f"{len(self.accepted)} accepted, all done {self.recovered_after:.1f} s after {service} returned"
        )


def ingest_through_outage(
    stack: Stack, api_url: str, key: TestKey, service: Service, *, seconds: float, done_timeout: float
) -> OutageRun:
    """A steady ingest plus a backlog; `service` stopped for `seconds` while a worker is busy, then
    started again; returns once every accepted job is done (or fails after `done_timeout`)."""
    import httpx

    run = uuid.uuid4().hex
    backlog = [
        {"text": f"Backlog item {index} of {run}: the ferry from Tallinn to Helsinki was delayed by fog."}
        for index in range(OUTAGE_BACKLOG)
    ]
    with (
        httpx.Client(base_url=api_url, headers=key.headers, timeout=30) as client,
        SteadyIngest(api_url, key) as ingest,
    ):
        wait_until(lambda: ingest.statuses().get(202, 0) >= 20, timeout=120, what="documents accepted")
        answer = client.post("/v1/documents/batch", json={"documents": backlog})
        assert answer.status_code == 202
        wait_until(
            lambda: stack.job_statuses(key.tenant).get("running", 0) > 0, timeout=60, what="a busy worker"
        )
        start = time.monotonic()
        service.stop()
        time.sleep(seconds / 2)
        health_during = client.get("/health")
        time.sleep(seconds / 2)
        service.start()
        end = time.monotonic()
        time.sleep(10)
    accepted = ingest.accepted_job_ids() | {uuid.UUID(item["job_id"]) for item in answer.json()["results"]}
    wait_until(
        lambda: jobs_done(stack, accepted) == len(accepted),
        timeout=done_timeout,
        interval=1,
        what=f"all {len(accepted)} accepted jobs done",
    )
    return OutageRun(ingest, accepted, start, end, health_during, time.monotonic() - end)


def assert_clear_503s_only(outage: OutageRun, check: str) -> None:
    """Every request answered, 202 or 503 with Retry-After, some 503 while down; /health named `check`."""
    ingest = outage.ingest
    assert {outcome.error for outcome in ingest.outcomes} == {None}
    assert set(ingest.statuses()) <= {202, 503}
    assert all(outcome.retry_after for outcome in ingest.outcomes if outcome.status == 503)
    assert any(outcome.status == 503 for outcome in outage.during())
    assert outage.health_during.status_code == 503
    assert outage.health_during.json()["checks"][check].startswith("unavailable")


def jobs_done(stack: Stack, job_ids: set[uuid.UUID]) -> int:
    with stack.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(Job).where(Job.id.in_(job_ids), Job.status == "done")
            )
            or 0
        )


def assert_no_secret_in_logs(stack: Stack, extra: dict[str, str] | None = None) -> None:
    """No password, signing secret or API key in any line any process of the stack logged."""
    text = stack.log_text()
    assert text, "no logs were captured"
    leaked = [name for name, secret in {**stack.secrets(), **(extra or {})}.items() if secret in text]
    assert not leaked, f"found in the logs: {leaked}"


class _AlwaysUnavailable(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


@contextlib.contextmanager
def http_site(handler: type[BaseHTTPRequestHandler] = _AlwaysUnavailable) -> Iterator[str]:
    """A web server on 127.0.0.1 (by default one whose every page answers 503); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
