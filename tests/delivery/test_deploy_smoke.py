"""Deploy smoke: the chart's own pod specs, run with podman, do what `helm install` promises.

The production-like values are rendered pointing at this machine's PostgreSQL and Redis; the
migration hook runs as a pod, then the API, worker and scheduler Deployments run with
`podman kube play --network host`, and a document goes through the deployed API until it is
searchable. That proves the chart's commands, environment wiring, security context and images
work together, as close to a cluster as this machine gets. Podman quirks handled here (see
../shared/design/offline-stack.md): a Job is played as a Pod, `ports:` are dropped under host
networking, and the Secret is created with `podman secret create`.

Needs podman and the images from `scripts/build-images.sh api worker`; skipped without them.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.delivery.chart_render import PRODUCTION_VALUES, REPO_ROOT, load_values, merged, render

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PODMAN = shutil.which("podman")
IMAGE_PREFIX = os.environ.get("SIE_IMAGE_PREFIX", "localhost")
IMAGE_TAG = os.environ.get("SIE_IMAGE_TAG", "dev")
API_REPOSITORY = f"{IMAGE_PREFIX}/sie-api"
WORKER_REPOSITORY = f"{IMAGE_PREFIX}/sie-worker"
PODMAN_ENV = {**os.environ, "CONTAINERS_CONF": str(REPO_ROOT / "scripts" / "containers.conf")}
RUN = uuid.uuid4().hex[:8]


def podman(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert PODMAN is not None
    result = subprocess.run(
        [PODMAN, *args], input=stdin, capture_output=True, text=True, env=PODMAN_ENV, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def _missing_prerequisite() -> str | None:
    if PODMAN is None:
        return "podman is not installed (apt-get install podman; see docs/deploy.md)"
    for repository in (API_REPOSITORY, WORKER_REPOSITORY):
        if podman("image", "exists", f"{repository}:{IMAGE_TAG}", check=False).returncode != 0:
            return f"image {repository}:{IMAGE_TAG} is absent: run scripts/build-images.sh api worker"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, logs: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")


def as_pod(job: dict[str, Any], name: str) -> dict[str, Any]:
    """`podman kube play` refuses Jobs: run the Job's pod template as a Pod, as the Job would."""
    template = job["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }


def for_host_network(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    """The Deployment under its own name, `ports:` dropped (podman rejects them with host networking)."""
    played = copy.deepcopy(deployment)
    played["metadata"]["name"] = name
    for container in played["spec"]["template"]["spec"]["containers"]:
        container.pop("ports", None)
    return played


def played_container(deployment: str, container: str) -> str:
    """The name podman gave a Deployment's container: `<deployment>-pod[-<n>]-<container>`."""
    names = podman("ps", "--all", "--format", "{{.Names}}").stdout.split()
    (name,) = [n for n in names if n.startswith(f"{deployment}-pod") and n.endswith(f"-{container}")]
    return name


@dataclass(frozen=True)
class Deployed:
    api_url: str
    api_container: str
    worker_container: str
    worker_metrics_url: str
    scheduler_container: str
    scheduler_metrics_url: str
    database_url: str
    helm_test_pod: dict[str, Any]
    logs: Callable[[], str]


def _container_logs(*containers: str) -> str:
    return "\n".join(
        f"--- {name}\n{podman('logs', '--tail', '40', name, check=False).stderr[-4000:]}"
        for name in containers
    )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("deploy")
    admin_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    database = f"sie_deploy_{RUN}"
    database_url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    secret_name = f"sie-credentials-{RUN}"
    api_port, metrics_port, scheduler_port = free_port(), free_port(), free_port()
    values = merged(
        load_values(PRODUCTION_VALUES),
        {
            # This machine has no Meilisearch and no registry: built-in search, locally built images.
            "config": {"searchBackend": "database", "meilisearchUrl": ""},
            "secrets": {"existingSecret": secret_name},
            "imagePullSecrets": [],
            "api": {"image": {"repository": API_REPOSITORY, "tag": IMAGE_TAG}, "port": api_port},
            "worker": {
                "image": {"repository": WORKER_REPOSITORY, "tag": IMAGE_TAG},
                "metricsPort": metrics_port,
                "concurrency": 1,
            },
            "scheduler": {"metricsPort": scheduler_port},
        },
    )
    rendered = render(values)
    # podman kube play reads a secretRef from podman's own secret store, as a JSON map of base64 values.
    secret = {
        key: base64.b64encode(value.encode()).decode()
        for key, value in {
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ["REDIS_URL"],
            "API_SECRET_KEY": uuid.uuid4().hex * 2,
        }.items()
    }
    migration_file = workdir / "migration.yaml"
    migration_file.write_text(
        yaml.safe_dump(as_pod(rendered.get("Job", "sie-migrations"), f"sie-migrate-{RUN}"))
    )
    services_file = workdir / "services.yaml"
    services_file.write_text(
        yaml.safe_dump_all(
            [
                rendered.get("ConfigMap", "sie-config"),
                for_host_network(rendered.get("Deployment", "sie-api"), f"sie-api-{RUN}"),
                for_host_network(rendered.get("Deployment", "sie-worker"), f"sie-worker-{RUN}"),
                for_host_network(rendered.get("Deployment", "sie-scheduler"), f"sie-scheduler-{RUN}"),
            ]
        )
    )

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    podman("secret", "create", secret_name, "-", stdin=json.dumps(secret))
    try:
        podman("kube", "play", "--network", "host", str(migration_file))
        exit_code = podman("wait", f"sie-migrate-{RUN}-migrate").stdout.strip()
        assert exit_code == "0", _container_logs(f"sie-migrate-{RUN}-migrate")
        podman("kube", "play", "--network", "host", str(services_file))
        api_container = played_container(f"sie-api-{RUN}", "api")
        worker_container = played_container(f"sie-worker-{RUN}", "worker")
        scheduler_container = played_container(f"sie-scheduler-{RUN}", "scheduler")
        yield Deployed(
            api_url=f"http://127.0.0.1:{api_port}",
            api_container=api_container,
            worker_container=worker_container,
            worker_metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
            scheduler_container=scheduler_container,
            scheduler_metrics_url=f"http://127.0.0.1:{scheduler_port}/metrics",
            database_url=database_url,
            helm_test_pod=rendered.get("Pod", "sie-test-health"),
            logs=lambda: _container_logs(api_container, worker_container, scheduler_container),
        )
    finally:
        for played in (services_file, migration_file):
            podman("kube", "down", str(played), check=False)
        podman("secret", "rm", secret_name, check=False)
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_the_migration_hook_migrated_the_empty_database(deployed: Deployed) -> None:
    with psycopg.connect(deployed.database_url) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone() or (None,)
        tables = {
            row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
    assert version
    assert {"documents", "jobs", "api_keys"} <= tables


def wait_until_healthy(deployed: Deployed) -> dict[str, Any]:
    def healthy() -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{deployed.api_url}/health", timeout=5)
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    return wait_for(healthy, timeout=120, what="the API's /health", logs=deployed.logs)


def test_a_document_pushed_through_the_deployed_api_becomes_searchable(deployed: Deployed) -> None:
    health = wait_until_healthy(deployed)
    assert health["checks"] == {"database": "ok", "redis": "ok", "search": "ok"}
    # `sie api-key create` inside the deployed pod: the image's CLI, with the chart's environment.
    key = podman(
        "exec", deployed.api_container, "sie", "api-key", "create", "--tenant", "deploy-smoke"
    ).stdout.strip()
    headers = {"X-API-Key": key}
    word = f"zephyrine{RUN}"
    accepted = httpx.post(
        f"{deployed.api_url}/v1/documents",
        json={"text": f"Ada Lovelace wrote about the {word} engine in London.", "source": "deploy-smoke"},
        headers=headers,
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text

    def found() -> dict[str, Any] | None:
        results = httpx.get(
            f"{deployed.api_url}/v1/search", params={"q": word}, headers=headers, timeout=10
        ).json()
        return results if results["total"] == 1 else None

    results = wait_for(found, timeout=240, what="the document in search results", logs=deployed.logs)
    assert results["hits"][0]["id"] == accepted.json()["document_id"]
    job = httpx.get(
        f"{deployed.api_url}/v1/jobs/{accepted.json()['job_id']}", headers=headers, timeout=10
    ).json()
    assert job["status"] == "done"
    # Both metrics endpoints work on their emptyDir multiprocess directories and saw the traffic.
    assert (
        metric_value(
            deployed.worker_metrics_url, "sie_job_duration_seconds_count", stage="total", outcome="done"
        )
        == 1
    )
    assert (
        metric_value(
            f"{deployed.api_url}/metrics",
            "sie_http_request_duration_seconds_count",
            route="/v1/documents",
            status="202",
        )
        == 1
    )


def metric_value(url: str, sample_name: str, **labels: str) -> float:
    families = text_string_to_metric_families(httpx.get(url, timeout=10).text)
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )


def test_the_helm_test_pod_passes_against_the_deployed_api(deployed: Deployed) -> None:
    wait_until_healthy(deployed)
    (container,) = deployed.helm_test_pod["spec"]["containers"]
    # `podman kube play` ignores hostAliases under host networking: run the same image and command
    # with `podman run`, the Service name resolving to this machine as cluster DNS would resolve it.
    result = podman(
        "run",
        "--rm",
        "--network",
        "host",
        "--add-host",
        "sie-api:127.0.0.1",
        "--read-only",
        "--user",
        "10001:10001",
        "--cap-drop",
        "ALL",
        container["image"],
        *container["command"],
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("200 ") and '"status":"ok"' in result.stdout


def test_the_deployed_scheduler_runs_and_serves_its_metrics(deployed: Deployed) -> None:
    def serving() -> str | None:
        try:
            return httpx.get(deployed.scheduler_metrics_url, timeout=5).text
        except httpx.TransportError:
            return None

    metrics = wait_for(serving, timeout=60, what="the scheduler's /metrics", logs=deployed.logs)
    assert "sie_build_info" in metrics


@pytest.mark.parametrize("container", ["api_container", "worker_container", "scheduler_container"])
def test_deployed_containers_run_as_the_non_root_user_on_a_read_only_root(
    deployed: Deployed, container: str
) -> None:
    name = getattr(deployed, container)
    assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
    refused = podman("exec", name, "touch", "/app/written-at-runtime", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    capabilities = podman("exec", name, "grep", "CapEff", "/proc/self/status").stdout.split()[-1]
    assert int(capabilities, 16) == 0
