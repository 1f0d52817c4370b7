"""Reliability tests: nothing they do may reach past 127.0.0.0/8 and ::1.

In this process, names resolve to loopback addresses only and a connection to any other address
fails before a packet leaves (generated inputs name arbitrary hosts; they are refused here, as an
unknown host). The API, worker and service processes these tests start are given loopback
addresses only, by construction.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench.scratch import ScratchServices
from tests.reliability.stack import PrivatePostgres, PrivateRedis, Stack
from tests.utils.api import api_client_with_queue
from tests.worker.test_job_runner import RecordingQueue

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="module", autouse=True)
def loopback_only() -> Iterator[list[str]]:
    """Refuse every name lookup and connection that would leave loopback; yields the refused attempts."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name.lower() in LOOPBACK_NAMES or _is_loopback_literal(name):
            return real_getaddrinfo(host, *args, **kwargs)
        attempts.append(f"lookup {name}")
        raise socket.gaierror(socket.EAI_NONAME, f"{name}: these tests resolve loopback names only")

    def refuse_outside_loopback(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback_literal(str(address[0])):
            attempts.append(f"connect {address[0]}")
            raise OSError(errno.ENETUNREACH, f"{address[0]} is outside loopback; these tests stay on it")

    def connect(sock: socket.socket, address: Any) -> None:
        refuse_outside_loopback(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        refuse_outside_loopback(sock, address)
        return real_connect_ex(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield attempts


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """One PostgreSQL cluster for the session's fault tests; each test gets its own database in it."""
    cluster = PrivatePostgres()
    cluster.init()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def stack(private_postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Stack]:
    """A private Redis and a freshly migrated private database; logs of every process under tmp_path."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    private_redis = PrivateRedis(log_dir / "redis-server.out")
    private_redis.start()
    built = Stack(
        postgres=private_postgres,
        redis=private_redis,
        database=private_postgres.create_database(),
        log_dir=log_dir,
    )
    try:
        built.migrate()
        yield built
    finally:
        built.dispose()
        private_redis.stop()


@pytest.fixture(scope="module")
def recording_queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture(scope="module")
def client(recording_queue: RecordingQueue) -> Iterator[TestClient]:
    """The API in this process, its broker replaced by a recording queue (jobs run with `run_job`)."""
    with api_client_with_queue(recording_queue) as test_client:
        yield test_client
