"""skaffold.yaml and compose.yaml against their published schemas, and wired to what really exists."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

import sie
from tests.delivery.chart_render import CHART_DIR, REPO_ROOT, SHARED_SCHEMAS, load_values, merged, render

SKAFFOLD = yaml.safe_load((REPO_ROOT / "skaffold.yaml").read_text())
COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
IMAGES = {
    "sie-api": "services/api/Dockerfile",
    "sie-worker": "services/worker/Dockerfile",
    "sie-ocr-worker": "services/ocr-worker/Dockerfile",
    "sie-operator": "operator/Dockerfile",
}
REQUIRED_ENV = {"DATABASE_URL", "REDIS_URL", "API_SECRET_KEY"}


def published_schema(name: str) -> dict[str, Any]:
    path = SHARED_SCHEMAS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the published schemas sit in ../shared/schemas beside the checkout")
    return json.loads(path.read_text())


def test_skaffold_yaml_matches_the_published_schema_of_its_api_version() -> None:
    assert SKAFFOLD["apiVersion"] == "skaffold/v4beta14"
    jsonschema.Draft7Validator(published_schema("skaffold-v4beta14.json")).validate(SKAFFOLD)


def test_skaffold_builds_the_four_images_from_their_dockerfiles() -> None:
    artifacts = {a["image"]: a for a in SKAFFOLD["build"]["artifacts"]}
    assert {image: a["docker"]["dockerfile"] for image, a in artifacts.items()} == IMAGES
    for artifact in artifacts.values():
        assert (REPO_ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()
    assert artifacts["sie-ocr-worker"]["docker"]["buildArgs"] == {"TORCH_FLAVOR": "cpu"}


def test_skaffold_wires_each_built_image_into_the_chart_values() -> None:
    (release,) = SKAFFOLD["deploy"]["helm"]["releases"]
    assert (REPO_ROOT / release["chartPath"]).resolve() == CHART_DIR
    templates = release["setValueTemplates"]
    for image, values_key in (
        ("sie-api", "api"),
        ("sie-worker", "worker"),
        ("sie-ocr-worker", "ocrWorker"),
        ("sie-operator", "operator"),
    ):
        suffix = re.sub(r"[^A-Za-z0-9]", "_", image)
        assert templates[f"{values_key}.image.repository"] == f"{{{{.IMAGE_REPO_{suffix}}}}}"
        assert templates[f"{values_key}.image.tag"] == f"{{{{.IMAGE_TAG_{suffix}}}}}"


def test_the_kind_profile_deploys_the_dev_profile_and_forwards_the_api_port() -> None:
    (profile,) = [p for p in SKAFFOLD["profiles"] if p["name"] == "kind"]
    patches = {patch["path"]: patch["value"] for patch in profile["patches"]}
    assert patches["/build/local"]["push"] is False  # built locally, loaded into the kind node
    (values_file,) = patches["/deploy/helm/releases/0/valuesFiles"]
    (release,) = SKAFFOLD["deploy"]["helm"]["releases"]
    # What skaffold would install: the kind values plus the images skaffold built.
    images = {key: "sie-built" for key in release["setValueTemplates"] if key.endswith("repository")}
    values = merged(load_values(REPO_ROOT / values_file), _nested(images))
    rendered = render(values)
    assert rendered.names("StatefulSet") == {"sie-postgresql", "sie-redis", "sie-meilisearch"}
    (forward,) = SKAFFOLD["portForward"]
    service = rendered.get("Service", forward["resourceName"])
    assert forward["port"] in [port["port"] for port in service["spec"]["ports"]]
    assert forward["namespace"] == release["namespace"]
    kind = yaml.safe_load((REPO_ROOT / "k8s" / "kind-config.yaml").read_text())
    (mapping,) = kind["nodes"][0]["extraPortMappings"]
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == mapping["containerPort"]
    assert profile["activation"] == [{"kubeContext": f"kind-{kind['name']}"}]


def _nested(dotted: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in dotted.items():
        node = result
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return result


def test_compose_yaml_matches_the_compose_specification() -> None:
    jsonschema.Draft7Validator(published_schema("compose-spec.json")).validate(COMPOSE)


def test_compose_yaml_has_only_the_top_level_keys_docker_compose_v1_reads() -> None:
    # The handbook's `docker-compose` (v1.29) refuses any other key, `name:` included.
    keys = {key for key in COMPOSE if not key.startswith("x-")}
    assert keys <= {"version", "services", "networks", "volumes", "secrets", "configs"}


def test_compose_runs_every_service_of_the_handbook() -> None:
    services = COMPOSE["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "meilisearch",
        "migrate",
        "api",
        "worker",
        "ocr-worker",
        "scheduler",
    }
    for name, service in services.items():
        if "build" in service:
            assert (REPO_ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
            assert set(service["environment"]) >= REQUIRED_ENV, name


def test_compose_migrates_once_before_anything_uses_the_database() -> None:
    services = COMPOSE["services"]
    assert services["migrate"]["command"] == ["sie", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker", "ocr-worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, (
            name
        )


def test_compose_workers_can_be_scaled() -> None:
    worker = COMPOSE["services"]["worker"]
    # `--scale worker=4` needs no fixed container name and no published host port.
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"][:4] == ["sie", "worker", "--queues", "ingestion.high,ingestion,ingestion.low"]
    assert worker["stop_grace_period"] == "660s"


def test_compose_services_write_only_to_tmpfs_mounts() -> None:
    for name, service in COMPOSE["services"].items():
        if "build" not in service:
            continue
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        # prometheus-client's multiprocess directory must exist, writable, when the worker starts.
        metrics_dir = service["environment"].get("PROMETHEUS_MULTIPROC_DIR")
        assert metrics_dir is None or metrics_dir in service["tmpfs"], name


def test_compose_publishes_only_the_api_and_only_on_localhost() -> None:
    published = {name: s["ports"] for name, s in COMPOSE["services"].items() if "ports" in s}
    assert published == {"api": ["127.0.0.1:${SIE_API_PORT:-8000}:8000"]}


def test_compose_tags_every_image_with_a_version_and_sie_images_with_the_release() -> None:
    release_tag = f"${{SIE_VERSION:-{sie.__version__}}}"
    sie_image = re.escape("${SIE_IMAGE_PREFIX:-localhost}/sie-") + "[a-z-]+:" + re.escape(release_tag)
    for name, service in COMPOSE["services"].items():
        if "build" in service:
            # One variable moves every SIE service to a release, and back (docs/deploy.md, rollback).
            assert re.fullmatch(sie_image, service["image"]), name
            assert service["build"]["args"]["VERSION"] == release_tag, name
        else:
            tag = service["image"].rpartition(":")[2]
            assert re.fullmatch(r"v?\d+(\.\d+)*", tag), f"{name}: {service['image']} has no version tag"


def memory_bytes(quantity: str) -> int:
    """Compose (`512m`, `1g`) and Kubernetes (`512Mi`, `1Gi`) quantities: both binary units."""
    match = re.fullmatch(r"(\d+)([kmg])i?", quantity.lower())
    assert match, f"unexpected memory quantity {quantity!r}"
    number, unit = match.groups()
    return int(number) * 1024 ** ("kmg".index(unit) + 1)


def test_compose_limits_memory_of_every_service_as_the_chart_does() -> None:
    services = COMPOSE["services"]
    assert all("mem_limit" in service for service in services.values()), "a service without mem_limit"
    chart = load_values(CHART_DIR / "values.yaml")
    for service, values_key in (
        ("api", "api"),
        ("worker", "worker"),
        ("ocr-worker", "ocrWorker"),
        ("scheduler", "scheduler"),
        ("migrate", "migrations"),
    ):
        chart_limit = chart[values_key]["resources"]["limits"]["memory"]
        assert memory_bytes(services[service]["mem_limit"]) == memory_bytes(chart_limit), service
