"""The operator as the chart runs it: the Deployment's command and environment, watching its own
namespace, with exactly the RBAC the chart grants (kmock refuses anything else with 403).

Each test starts `python -m sie_operator run` as a real process, peering on, against kmock, the real
API and the session's PostgreSQL and Redis. "Starting" is the operator's first Kubernetes request:
from there the clock runs, whatever the interpreter spent on imports before.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import kmock
import pytest
import pytest_asyncio

from bench.kube_mock import GROUP_VERSION, declare_sie_resources, write_kubeconfig
from bench.processes import free_port
from tests.delivery.chart_render import REQUIRED_VALUES, Rendered, render
from tests.operator.conftest import NAMESPACE, eventually, new_object, object_url, resource_status
from tests.operator.rbac import RbacEmulator, Rule, rules
from tests.utils import api as api_keys

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

FEED = "http://127.0.0.1:9/feed.xml"  # never fetched: no scheduler runs in these tests
SYNC_ANNOTATION = "sie.example.com/sync-requested-at"
FIRST_RECONCILE_SECONDS = 5.0
PEERING_RESOURCE = "kopf.dev/v1/kopfpeerings"


@pytest.fixture(scope="module")
def chart() -> Rendered:
    """The chart's defaults: the operator watches its release's namespace."""
    return render(REQUIRED_VALUES)


def _operator_container(chart: Rendered) -> dict[str, Any]:
    (container,) = chart.get("Deployment", "sie-operator")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def operator_grants(chart: Rendered) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """(rules in its namespace, rules everywhere) the chart's bindings give the operator's account."""
    account = chart.get("Deployment", "sie-operator")["spec"]["template"]["spec"]["serviceAccountName"]
    namespaced: list[Rule] = []
    everywhere: list[Rule] = []
    for binding in chart.of_kind("RoleBinding") + chart.of_kind("ClusterRoleBinding"):
        if not any(s["kind"] == "ServiceAccount" and s["name"] == account for s in binding.body["subjects"]):
            continue
        reference = binding.body["roleRef"]
        granted = rules(chart.get(reference["kind"], reference["name"]))
        # A RoleBinding grants in its namespace only, whichever kind of role it names.
        (everywhere if binding.kind == "ClusterRoleBinding" else namespaced).extend(granted)
    return tuple(namespaced), tuple(everywhere)


@pytest_asyncio.fixture
async def cluster(chart: Rendered) -> AsyncIterator[RbacEmulator]:
    """kmock granting the operator what the chart grants it, holding the chart's KopfPeering; no more."""
    namespaced, everywhere = operator_grants(chart)
    emulator = RbacEmulator(namespace=NAMESPACE, role_rules=namespaced, cluster_rules=everywhere)
    async with emulator, kmock.Server(emulator):
        declare_sie_resources(emulator)
        emulator.resources[PEERING_RESOURCE] = kmock.ResourceInfo(
            kind="KopfPeering", namespaced=True, verbs={"get", "list", "watch", "patch"}
        )
        (peering,) = chart.of_kind("KopfPeering")
        metadata = {**peering.body["metadata"], "namespace": NAMESPACE, "uid": "p1", "resourceVersion": "1"}
        emulator.objects[PEERING_RESOURCE, NAMESPACE, peering.name] = {**peering.body, "metadata": metadata}
        yield emulator


@pytest.fixture
def kubeconfig(cluster: RbacEmulator, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url))


@asynccontextmanager
async def chart_operator(
    chart: Rendered, kubeconfig: Path, api_url: str, key: api_keys.TestKey, log: Path
) -> AsyncIterator[str]:
    """`python -m sie_operator run` with the Deployment's environment; yields its /healthz URL.

    The Downward API and the Secret the chart reads become their values here; the API is this
    bench's; ports are free ones."""
    container = _operator_container(chart)
    env = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    env |= {"POD_NAMESPACE": NAMESPACE, "SIE_API_URL": api_url, "SIE_ADMIN_API_KEY": key.plain}
    assert set(env) == {item["name"] for item in container["env"]}, "an env var the chart sets is not mapped"
    health_port = free_port()
    env |= {"KUBECONFIG": str(kubeconfig), "OPERATOR_HEALTH_PORT": str(health_port)}
    env["OPERATOR_METRICS_PORT"] = "0"
    command = [sys.executable if part == "python" else part for part in container["command"]]
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command, env={**os.environ, **env}, stdout=output, stderr=output
        )
        try:
            yield f"http://127.0.0.1:{health_port}/healthz"
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=20)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def health(url: str) -> tuple[int, dict[str, Any]]:
    """(status, body) of /healthz; (0, {}) while nothing answers."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


def add_source(cluster: RbacEmulator, name: str, tenant: str, **metadata: Any) -> None:
    spec = {"type": "rss", "url": FEED, "interval": "1h", "tenant": tenant}
    cluster.objects[f"{GROUP_VERSION}/ingestionsources", NAMESPACE, name] = new_object(
        "ingestionsources", name, spec, **metadata
    )


def applied(cluster: RbacEmulator, name: str) -> dict[str, Any] | None:
    status = resource_status(cluster, "ingestionsources", name)
    return status if status.get("observedGeneration") == 1 else None


@pytest.fixture
def operator_log(tmp_path: Path) -> Path:
    return tmp_path / "operator.log"


async def test_it_reconciles_its_first_source_within_5s_with_only_the_charts_rbac(
    chart: Rendered,
    cluster: RbacEmulator,
    kubeconfig: Path,
    api_url: str,
    system_key: api_keys.TestKey,
    operator_log: Path,
) -> None:
    add_source(cluster, "blog", f"ns-{uuid.uuid4().hex[:8]}")
    async with chart_operator(chart, kubeconfig, api_url, system_key, operator_log) as healthz:
        await eventually(
            lambda: applied(cluster, "blog"), timeout=90, interval=0.05, what="the first reconcile"
        )
        reconciled_at = time.monotonic()
        started_at = cluster.requested[0][0]
        assert reconciled_at - started_at < FIRST_RECONCILE_SECONDS, (
            f"first reconcile {reconciled_at - started_at:.1f}s after the first API request; "
            f"refused: {cluster.refused}"
        )
        ready = await eventually(lambda: _ready(healthz), timeout=10, what="/healthz to report watching")
        assert ready[1] == {"status": "watching", "namespace": NAMESPACE}
    assert cluster.refused == [], operator_log.read_text()[-3000:]


async def _ready(url: str) -> tuple[int, dict[str, Any]] | None:
    status, body = await health(url)
    return (status, body) if status == 200 else None


async def test_healthz_is_not_ready_while_a_resource_is_not_watched(
    chart: Rendered,
    cluster: RbacEmulator,
    kubeconfig: Path,
    api_url: str,
    system_key: api_keys.TestKey,
    operator_log: Path,
) -> None:
    del cluster.resources[f"{GROUP_VERSION}/deadletterreplays"]  # its CRD is not installed
    add_source(cluster, "blog", f"ns-{uuid.uuid4().hex[:8]}")
    async with chart_operator(chart, kubeconfig, api_url, system_key, operator_log) as healthz:
        # It works for what it can watch, and says what it cannot.
        await eventually(lambda: applied(cluster, "blog"), timeout=90, what="the IngestionSource")
        for _ in range(3):
            status, body = await health(healthz)
            assert (status, body) == (
                503,
                {"status": "starting", "waiting_for": ["deadletterreplays.sie.example.com"]},
            )
            await asyncio.sleep(0.5)


async def test_the_sync_now_annotation_asks_the_engine_and_the_status_shows_it(
    chart: Rendered,
    cluster: RbacEmulator,
    kubeconfig: Path,
    api_url: str,
    system_key: api_keys.TestKey,
    operator_log: Path,
) -> None:
    tenant = f"ns-{uuid.uuid4().hex[:8]}"
    add_source(cluster, "blog", tenant)
    # What an operator of the previous version left on a resource: kopf's marks under GROUP.
    add_source(
        cluster,
        "news",
        tenant,
        annotations={
            "sie.example.com/kopf-managed": "yes",
            "sie.example.com/last-handled-configuration": json.dumps({"spec": {"tenant": tenant}}),
        },
    )
    async with chart_operator(chart, kubeconfig, api_url, system_key, operator_log):
        for name in ("blog", "news"):
            await eventually(lambda name=name: applied(cluster, name), timeout=90, what=f"{name} applied")
        requested = "2026-12-06T10:00:00Z"
        for name in ("blog", "news"):
            patched = await cluster.patch(
                object_url("ingestionsources", name),
                json={"metadata": {"annotations": {SYNC_ANNOTATION: requested}}},
            )
            assert patched.status == 200
        for name in ("blog", "news"):
            status = await eventually(
                lambda name=name: resource_status(cluster, "ingestionsources", name).get("lastSyncRequest"),
                timeout=15,
                what=f"{name}'s lastSyncRequest",
            )
            assert status == requested
    news = cluster.objects[f"{GROUP_VERSION}/ingestionsources", NAMESPACE, "news"]
    annotations = news["metadata"]["annotations"]
    assert not [key for key in annotations if key.startswith("sie.example.com/") and key != SYNC_ANNOTATION]
    assert any(key.startswith("sie-operator.kopf.dev/") for key in annotations)


async def test_the_rbac_stand_in_refuses_what_the_chart_does_not_grant(cluster: RbacEmulator) -> None:
    """The bench itself: kopf's namespace listing and other namespaces are refused, the Role's own not."""
    assert (await cluster.get(object_url("ingestionsources"))).status == 200
    assert (await cluster.get("/api/v1/namespaces")).status == 403
    assert (await cluster.get(f"/apis/{GROUP_VERSION}/namespaces/other/ingestionsources")).status == 403
    assert (await cluster.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps")).status == 403
    assert (await cluster.get("/apis")).status == 200
    assert len(cluster.refused) == 3
