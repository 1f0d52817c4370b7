"""values.yaml, values.schema.json and the chart's own checks: a wrong value fails before anything deploys."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from helm_python import Chart, HelmRenderError, HelmValuesError, lint

from tests.delivery.chart_render import (
    CHART_DIR,
    KIND_VALUES,
    PRODUCTION_VALUES,
    REQUIRED_VALUES,
    load_values,
    merged,
    render,
)

VALUES_FILE = CHART_DIR / "values.yaml"
SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())
WARNING = 2


@pytest.fixture(scope="module")
def chart() -> Iterator[Chart]:
    with Chart.load(CHART_DIR) as loaded:
        yield loaded


def leaf_paths(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of the values a user sets: scalars, lists, and maps that are empty by default."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from leaf_paths(value, f"{path}.")
        else:
            yield path


def schema_for(path: str) -> dict[str, Any]:
    node = SCHEMA
    for key in path.split("."):
        node = node["properties"][key]
        while "$ref" in node:
            node = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"api": {"replicas": 3}}, "additional properties 'replicas' not allowed"),
        ({"workr": {"concurrency": 2}}, "additional properties 'workr' not allowed"),
        ({"worker": {"scaler": {"maxReplica": 4}}}, "additional properties 'maxReplica' not allowed"),
        ({"worker": {"concurrency": "4"}}, "got string, want integer"),
        ({"api": {"autoscaling": {"enabled": "yes"}}}, "got string, want boolean"),
        ({"ocrWorker": {"device": "gpu"}}, "value must be one of 'auto', 'cpu', 'cuda'"),
        ({"worker": {"queues": ["ocr"]}}, "value must be one of"),
        (
            {"worker": {"scaler": {"metricsUnavailable": {"policy": "panic"}}}},
            "value must be one of 'hold', 'fallback'",
        ),
        (
            {"config": {"environment": "prod"}},
            "value must be one of '', 'development', 'staging', 'production'",
        ),
        ({"api": {"resources": {"limits": {"memory": "lots"}}}}, "/api/resources/limits/memory"),
    ],
)
def test_the_schema_rejects_typos_and_wrong_types(
    chart: Chart, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(HelmValuesError) as error:
        chart.validate_schema(merged(REQUIRED_VALUES, values))
    assert complaint in str(error.value)


def test_a_rejected_value_also_stops_rendering() -> None:
    with pytest.raises(HelmValuesError, match="replicas"):
        render(merged(REQUIRED_VALUES, {"api": {"replicas": 3}}))


@pytest.mark.parametrize("values_file", [VALUES_FILE, PRODUCTION_VALUES, KIND_VALUES], ids=lambda p: p.name)
def test_our_own_values_files_pass_the_schema(chart: Chart, values_file: Any) -> None:
    chart.validate_schema(load_values(values_file))


def test_every_value_is_documented_and_typed() -> None:
    text = VALUES_FILE.read_text()
    documented = set(re.findall(r"^\s*## @param (\S+) \S", text, flags=re.MULTILINE))
    paths = set(leaf_paths(yaml.safe_load(text)))
    assert paths - documented == set(), "values without a ## @param line"
    assert documented - paths == set(), "## @param lines for values that do not exist"
    for path in paths:
        assert "type" in schema_for(path) or "oneOf" in schema_for(path) or "anyOf" in schema_for(path), path


def test_every_object_in_the_schema_refuses_unknown_keys() -> None:
    def objects(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield where, node
            for key, child in node.items():
                yield from objects(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                yield from objects(child, f"{where}/{index}")

    found = list(objects(SCHEMA, ""))
    assert len(found) > 30
    for where, node in found:
        if where.startswith("/definitions/envVars"):
            continue  # Kubernetes EnvVar objects: name plus value or valueFrom, checked by Kubernetes
        assert node.get("additionalProperties") is False, where


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"worker": {"scaler": {"minReplicas": 5, "maxReplicas": 2}}},
            "worker.scaler.minReplicas (5) is above maxReplicas (2)",
        ),
        ({"worker": {"scaler": {"minReplicas": 0}}}, "only the OCR pool may scale to zero"),
        (
            {"worker": {"scaler": {"minReplicas": 3, "metricsUnavailable": {"fallbackReplicas": 2}}}},
            "worker.scaler.metricsUnavailable.fallbackReplicas (2) must lie within minReplicas",
        ),
        (
            {"ocrWorker": {"terminationGracePeriodSeconds": 600}},
            "ocrWorker.terminationGracePeriodSeconds (600) must exceed",
        ),
        (
            {"ocrWorker": {"gpu": {"enabled": True}, "device": "cpu"}},
            "requests GPUs but ocrWorker.device is cpu",
        ),
        ({"api": {"ingress": {"enabled": True}}}, "needs at least one entry in api.ingress.hosts"),
        (
            {"api": {"autoscaling": {"minReplicas": 4, "maxReplicas": 3}}},
            "api.autoscaling.minReplicas (4) is above",
        ),
        ({"dev": {"enabled": True}, "secrets": {"existingSecret": "mine"}}, "unset secrets.existingSecret"),
        (
            {"dev": {"enabled": True}, "config": {"environment": "production"}},
            "dev.enabled runs ENVIRONMENT=development: unset config.environment (production)",
        ),
        ({"config": {"meilisearchUrl": ""}}, "config.meilisearchUrl is required"),
    ],
)
def test_inconsistent_values_fail_with_a_message_saying_what_to_change(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmRenderError) as error:
        render(merged(REQUIRED_VALUES, values))
    assert message in str(error.value)


def test_the_database_search_backend_needs_no_meilisearch() -> None:
    values = merged(REQUIRED_VALUES, {"config": {"meilisearchUrl": "", "searchBackend": "database"}})
    config = render(values).get("ConfigMap", "sie-config")["data"]
    assert config["SEARCH_BACKEND"] == "database" and "MEILISEARCH_URL" not in config


@pytest.mark.parametrize(
    "values",
    [REQUIRED_VALUES, load_values(PRODUCTION_VALUES), load_values(KIND_VALUES)],
    ids=["defaults", "production", "kind"],
)
def test_helm_lint_is_clean(values: dict[str, Any]) -> None:
    report = lint(CHART_DIR, values, strict=True, namespace="sie")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []
