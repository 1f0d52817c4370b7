"""The chart rendered by real Helm (helm-python-sdk), as parsed manifests, and the paths the tests read.

Rendering is offline, like `helm template`: no cluster, so `.Capabilities.APIVersions` holds only
what a test passes as `api_versions` (like `helm template --api-versions`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart, _native

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "sie"
CRD_DIR = CHART_DIR / "crds"
# Published schemas live beside the checkout (../shared/schemas), never copied into it.
SHARED_SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
PRODUCTION_VALUES = Path(__file__).with_name("values-production.yaml")
KIND_VALUES = REPO_ROOT / "k8s" / "values-kind.yaml"
RELEASE = "sie"
NAMESPACE = "sie"
MONITORING_API = "monitoring.coreos.com/v1"
SIE_API_GROUP = "sie.example.com"

# The least a real install must set: where PostgreSQL, Redis and Meilisearch are, and the key.
REQUIRED_VALUES: dict[str, Any] = {
    "secrets": {
        "databaseUrl": "postgresql://sie:pw@db.example.internal:5432/sie",
        "redisUrl": "redis://redis.example.internal:6379/0",
        "apiSecretKey": "k" * 48,
    },
    "config": {"meilisearchUrl": "http://meilisearch.example.internal:7700"},
}


def merged(*layers: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge values the way Helm layers `-f` files: later layers win, maps merge."""
    result: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            else:
                result[key] = value
    return result


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


@dataclass(frozen=True)
class Manifest:
    template: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def annotations(self) -> dict[str, str]:
        return self.body["metadata"].get("annotations") or {}

    @property
    def is_hook(self) -> bool:
        return "helm.sh/hook" in self.annotations


@dataclass(frozen=True)
class Rendered:
    manifests: list[Manifest]
    notes: str

    def of_kind(self, kind: str) -> list[Manifest]:
        return [manifest for manifest in self.manifests if manifest.kind == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [m.body for m in self.manifests if m.kind == kind and m.name == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {manifest.name for manifest in self.of_kind(kind)}


def render_templates(values: dict[str, Any], *, api_versions: tuple[str, ...] = ()) -> dict[str, str]:
    with Chart.load(CHART_DIR) as chart:
        if not api_versions:
            return chart.render(values, name=RELEASE, namespace=NAMESPACE)
        # Chart.render has no api_versions argument; the native render it wraps takes the option.
        options = {"name": RELEASE, "namespace": NAMESPACE, "api_versions": list(api_versions)}
        raw = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options))
        return json.loads(raw)


def render(values: dict[str, Any], *, api_versions: tuple[str, ...] = ()) -> Rendered:
    manifests: list[Manifest] = []
    notes = ""
    for template, text in sorted(render_templates(values, api_versions=api_versions).items()):
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        manifests.extend(Manifest(template, body) for body in yaml.safe_load_all(text) if body)
    return Rendered(manifests, notes)


def pod_specs(rendered: Rendered) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload the chart renders, hooks and tests included."""
    for manifest in rendered.manifests:
        if manifest.kind in ("Deployment", "StatefulSet", "Job"):
            yield f"{manifest.kind}/{manifest.name}", manifest.body["spec"]["template"]["spec"]
        elif manifest.kind == "Pod":
            yield f"Pod/{manifest.name}", manifest.body["spec"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}
