"""The CRDs reject bad specs as `kubectl apply` would: OpenAPI schema, strict fields, and CEL rules.

The API server validates a custom resource against `openAPIV3Schema` after defaulting, refuses
unknown fields under kubectl's default strict field validation, then evaluates each
`x-kubernetes-validations` rule (CEL). Here jsonschema stands in for the first two and cel-python
for the third, on the very files the chart installs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml

from sie.core.errors import SourceConfigError
from sie.core.sources.registry import SOURCE_TYPES, check_source_config

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "charts" / "sie" / "crds"
EXAMPLES = REPO / "k8s" / "examples"
BAD_SPECS = Path(__file__).parent / "bad_specs"
PLURALS = {
    "IngestionSource": "ingestionsources",
    "WorkerScaler": "workerscalers",
    "DeadLetterReplay": "deadletterreplays",
}


def crd(kind: str) -> dict[str, Any]:
    return yaml.safe_load((CRDS / f"{PLURALS[kind]}.yaml").read_text())


def served_schema(kind: str) -> dict[str, Any]:
    return crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def as_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI (Kubernetes flavour) to JSON Schema: nullable, and strict unknown-field rejection."""
    result = {key: value for key, value in schema.items() if not key.startswith("x-kubernetes")}
    if schema.pop("nullable", False) or result.pop("nullable", False):
        result["type"] = [result["type"], "null"]
    if "properties" in schema:
        result["properties"] = {name: as_json_schema(sub) for name, sub in schema["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            result["additionalProperties"] = False
    if "items" in schema:
        result["items"] = as_json_schema(schema["items"])
    return result


def with_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """The object after the API server's defaulting (CEL rules see defaulted values)."""
    if isinstance(value, dict) and "properties" in schema:
        result = dict(value)
        for name, sub in schema["properties"].items():
            if name not in result and "default" in sub:
                result[name] = copy.deepcopy(sub["default"])
            if name in result:
                result[name] = with_defaults(result[name], sub)
        return result
    return value


def cel_errors(value: Any, old: Any, schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    environment = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations", []):
        transition = "oldSelf" in rule["rule"]
        if transition and old is None:
            continue  # transition rules apply to updates only
        activation = {"self": celpy.json_to_cel(value)}
        if transition:
            activation["oldSelf"] = celpy.json_to_cel(old)
        if not environment.program(environment.compile(rule["rule"])).evaluate(activation):
            errors.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                old_value = old.get(name) if isinstance(old, dict) else None
                errors += cel_errors(value[name], old_value, sub, f"{path}.{name}")
    return errors


def admission_errors(document: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """What the API server would say to `kubectl apply` of this document; [] when it is accepted."""
    schema = served_schema(document["kind"])
    validator = jsonschema.Draft202012Validator(
        as_json_schema(copy.deepcopy(schema)), format_checker=jsonschema.FormatChecker()
    )
    errors = [
        f"{'.'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(document)
    ]
    if errors:
        return errors
    return cel_errors(with_defaults(document, schema), old and with_defaults(old, schema), schema, "")


def documents(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml"))


@pytest.mark.parametrize("path", documents(CRDS), ids=lambda path: path.name)
def test_crds_are_valid_apiextensions_manifests(path: Path) -> None:
    kubernetes_validate.validate(yaml.safe_load(path.read_text()), "1.30", strict=True)


@pytest.mark.parametrize("kind", sorted(PLURALS))
def test_crds_are_namespaced_with_status_short_names_and_printer_columns(kind: str) -> None:
    definition = crd(kind)
    version = definition["spec"]["versions"][0]
    assert definition["spec"]["group"] == "sie.example.com" and version["name"] == "v1alpha1"
    assert definition["spec"]["scope"] == "Namespaced"
    assert version["subresources"] == {"status": {}}
    short = {"IngestionSource": "isrc", "WorkerScaler": "wscale", "DeadLetterReplay": "dlr"}[kind]
    assert definition["spec"]["names"]["shortNames"] == [short]
    # Every printer column reads a field the schema declares (a typo would show an empty column).
    schema = version["schema"]["openAPIV3Schema"]
    for column in version["additionalPrinterColumns"]:
        path = column["jsonPath"].split("[")[0].strip(".").split(".")
        if path[0] != "metadata":
            node = schema
            for part in path:
                node = node["properties"][part]


@pytest.mark.parametrize("path", documents(EXAMPLES), ids=lambda path: path.name)
def test_every_example_is_accepted(path: Path) -> None:
    assert admission_errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", documents(BAD_SPECS), ids=lambda path: path.name)
def test_every_bad_spec_is_rejected_for_its_reason(path: Path) -> None:
    text = path.read_text()
    expected = text.splitlines()[1].removeprefix("# expect: ")
    errors = admission_errors(yaml.safe_load(text))
    assert any(expected in error for error in errors), errors


def test_examples_cover_every_kind() -> None:
    assert {yaml.safe_load(path.read_text())["kind"] for path in documents(EXAMPLES)} == set(PLURALS)


def test_replay_selector_is_fixed_once_created() -> None:
    replay = yaml.safe_load((EXAMPLES / "deadletterreplay.yaml").read_text())
    faster = copy.deepcopy(replay)
    faster["spec"]["ratePerSecond"] = 200
    assert admission_errors(faster, old=replay) == []
    widened = copy.deepcopy(replay)
    widened["spec"]["selector"].pop("tenant")
    assert admission_errors(widened, old=replay) == [
        ".spec: selector and dryRun are fixed once created; create another DeadLetterReplay"
    ]


def test_url_list_takes_urls_or_a_list_document_but_not_both() -> None:
    source = yaml.safe_load((EXAMPLES / "ingestionsource.yaml").read_text())
    source["spec"] = {"type": "url_list", "tenant": "acme", "urls": ["https://example.com/a"]}
    assert admission_errors(source) == []
    source["spec"]["url"] = "https://example.com/list.txt"
    assert admission_errors(source) != []


LOCATION_SHAPES = {
    "url": {"url": "https://example.com/listing"},
    "urls": {"urls": ["https://example.com/a"]},
    "both": {"url": "https://example.com/listing", "urls": ["https://example.com/a"]},
    "neither": {},
}


def engine_accepts(type_name: str, shape: dict[str, Any]) -> bool:
    try:
        check_source_config(type_name, url=shape.get("url"), urls=shape.get("urls", []))
    except SourceConfigError:
        return False
    return True


@pytest.mark.parametrize("shape", sorted(LOCATION_SHAPES))
@pytest.mark.parametrize("type_name", list(SOURCE_TYPES))
def test_the_crd_and_the_engine_agree_on_url_and_urls(type_name: str, shape: str) -> None:
    source = yaml.safe_load((EXAMPLES / "ingestionsource.yaml").read_text())
    source["spec"] = {"type": type_name, "tenant": "acme", **LOCATION_SHAPES[shape]}
    crd_accepts = admission_errors(source) == []
    assert crd_accepts == engine_accepts(type_name, LOCATION_SHAPES[shape])
