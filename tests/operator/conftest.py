"""The operator's test bench: kmock as the Kubernetes API, the real SIE API in a uvicorn process,
the real Redis and PostgreSQL of the test session, and the operator under `kopf.testing.KopfRunner`.

kmock's quirks (shared/design/offline-stack.md; `bench/kube_mock.py` declares our resources):
objects need `uid` and `resourceVersion`, which it never sets; it does not bump `generation` or
run admission, so tests set what the API server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import pytest_asyncio
import sie_operator.handlers  # noqa: F401  (imported once here, not concurrently by kopf's thread)
from kopf.testing import KopfRunner
from pydantic import SecretStr

from bench.kube_mock import GROUP_VERSION, KINDS, declare_sie_resources, write_kubeconfig
from bench.processes import api_server
from bench.scratch import ScratchServices
from sie.core.config import settings
from sie.core.queues import QUEUE_EPOCH_KEY
from sie.core.redis import redis_client
from sie.core.security import SYSTEM_SCOPES
from tests.utils.api import TestKey, make_key

NAMESPACE = "sie-test"


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real API, as the operator reaches it over HTTP."""
    # The queue has been in use: without the epoch key the API's relay would take this fresh Redis db
    # for a reset one and send every pending job again (replayed ones included), at any moment.
    redis_client().set(QUEUE_EPOCH_KEY, "tests", nx=True)
    log = tmp_path_factory.mktemp("api") / "api.log"
    with api_server(log_path=log) as url:
        yield url


@pytest.fixture(scope="module")
def system_key() -> TestKey:
    """The operator's key: every scope plus `system` (`sie api-key create --system`)."""
    return make_key("operator", scopes=SYSTEM_SCOPES)


@pytest.fixture
def k8s(kmock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """kmock serving our three resources, with a kubeconfig that points kopf and the client at it."""
    declare_sie_resources(kmock)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", kmock.url)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # The client reads KUBECONFIG once, when it is first imported.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    return kmock


@pytest.fixture
def operator_env(api_url: str, system_key: TestKey, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings are parsed once per process: point the already-built object at this bench."""
    monkeypatch.setattr(settings, "sie_api_url", api_url)
    monkeypatch.setattr(settings, "sie_admin_api_key", SecretStr(system_key.plain))
    monkeypatch.setattr(settings, "operator_namespace", None)


@pytest_asyncio.fixture
async def operator(k8s: Any, operator_env: None) -> AsyncIterator[KopfRunner]:
    """The operator, as `kopf run` runs it, in a thread of this process (KopfRunner)."""
    runner = KopfRunner(
        ["run", "--standalone", "--all-namespaces", "-m", "sie_operator.handlers"], timeout=60
    )
    # Entering waits for nothing but the thread; the test's own loop must keep serving kmock meanwhile.
    await asyncio.to_thread(runner.__enter__)
    try:
        yield runner
    finally:
        await asyncio.to_thread(runner.__exit__, None, None, None)
    assert runner.exception is None, runner.output


def new_object(plural: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """A custom resource as the API server would hand it out after `kubectl apply`."""
    return {
        "apiVersion": GROUP_VERSION,
        "kind": KINDS[plural],
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1",
            "generation": 1,
            "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **metadata,
        },
        "spec": spec,
    }


def object_url(plural: str, name: str | None = None) -> str:
    base = f"/apis/{GROUP_VERSION}/namespaces/{NAMESPACE}/{plural}"
    return base if name is None else f"{base}/{name}"


async def eventually(
    probe: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "condition"
) -> Any:
    """Await until `probe()` is truthy (sync or async), serving kmock in between; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def resource_status(k8s: Any, plural: str, name: str) -> dict[str, Any]:
    with contextlib.suppress(KeyError):
        return dict(k8s.objects[f"{GROUP_VERSION}/{plural}", NAMESPACE, name].get("status") or {})
    return {}


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((entry for entry in status.get("conditions", []) if entry["type"] == type_), {})
