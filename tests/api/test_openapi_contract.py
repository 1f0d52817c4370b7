"""The OpenAPI document is the whole contract (issue 13 §7): each rule the API enforces is in it.

Each test takes one mismatch a fuzzer found between `/openapi.json` and the API: it checks what the
document says (validating bodies against it as any client's validator would) and that the API does
the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from sie.core.security import SYSTEM_SCOPES
from tests.utils.api import TestKey, make_key


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


@pytest.fixture(scope="module")
def admin() -> TestKey:
    """An operator's key: admin, and `system` for the tenant choices."""
    return make_key(scopes=SYSTEM_SCOPES)


def request_body_schema(openapi: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    content = openapi["paths"][path][method]["requestBody"]["content"]
    return next(iter(content.values()))["schema"]


def allows(openapi: dict[str, Any], schema: dict[str, Any], instance: object) -> bool:
    """Whether a JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) checking formats accepts it."""
    root = {**schema, "components": openapi["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True).is_valid(instance)


def parameter(openapi: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    return next(p for p in openapi["paths"][path][method]["parameters"] if p["name"] == name)


# --- "exactly one of text or url", "tenant or all_tenants" -------------------------------------------


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"text": "words"}, True),
        ({"url": "http://127.0.0.1:9/a"}, True),
        ({"text": "words", "url": None}, True),
        ({"text": "words", "url": "http://127.0.0.1:9/a"}, False),
        ({}, False),
        ({"text": None, "url": None}, False),
        ({"text": " \t\n"}, False),
    ],
)
def test_documents_schema_says_exactly_one_of_text_or_url(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, body: dict[str, Any], valid: bool
) -> None:
    assert allows(openapi, request_body_schema(openapi, "/v1/documents"), body) is valid
    answer = client.post("/v1/documents", json=body, headers=admin.headers)
    assert (answer.status_code == 202) is valid, answer.text


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"dry_run": True, "all_tenants": True}, True),
        ({"dry_run": True, "tenant": "other"}, True),
        ({"dry_run": True, "tenant": "other", "all_tenants": False}, True),
        ({"dry_run": True, "tenant": "other", "all_tenants": True}, False),
    ],
)
def test_replay_schema_says_tenant_or_all_tenants(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, body: dict[str, Any], valid: bool
) -> None:
    assert allows(openapi, request_body_schema(openapi, "/v1/dead-letters/replay"), body) is valid
    answer = client.post("/v1/dead-letters/replay", json=body, headers=admin.headers)
    assert (answer.status_code == 200) is valid, answer.text


# --- an empty upload, dates, paging --------------------------------------------------------------------


def test_an_empty_upload_is_refused_and_the_schema_says_so(
    openapi: dict[str, Any], client: TestClient, admin: TestKey
) -> None:
    form = openapi["components"]["schemas"]["Body_upload_document_v1_documents_upload_post"]
    assert form["properties"]["file"]["minLength"] == 1
    answer = client.post("/v1/documents/upload", files={"file": ("empty.txt", b"")}, headers=admin.headers)
    assert answer.status_code == 422


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/search", "to"),
        ("/v1/search", "from"),
        ("/v1/search", "published_from"),
        ("/v1/insights/sentiment", "to"),
        ("/v1/insights/entities", "from"),
    ],
)
def test_dates_are_dates_not_numbers(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, path: str, name: str
) -> None:
    schema = parameter(openapi, path, name)["schema"]
    for value, valid in [
        ("0.5", False),
        ("1700000000", False),
        ("2026-01-31", True),
        ("2026-01-31T12:00:00Z", True),
    ]:
        assert allows(openapi, schema, value) is valid, value
        answer = client.get(path, params={name: value}, headers=admin.headers)
        assert (answer.status_code == 200) is valid, (value, answer.text)


def test_replay_window_dates_are_dates_not_numbers(client: TestClient, admin: TestKey) -> None:
    for since in (0.5, "0.5", 1_700_000_000):
        answer = client.post(
            "/v1/dead-letters/replay", json={"dry_run": True, "since": since}, headers=admin.headers
        )
        assert answer.status_code == 422, since


@pytest.mark.parametrize(("path", "name"), [("/v1/sources", "offset"), ("/v1/search", "offset")])
def test_paging_is_bounded(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, path: str, name: str
) -> None:
    maximum = parameter(openapi, path, name)["schema"]["maximum"]
    assert maximum < 2**63
    answer = client.get(path, params={name: 2**63}, headers=admin.headers)
    assert answer.status_code == 422 and name in answer.text, answer.text
    # The deepest page the document allows is answered, with the largest page it allows.
    deepest = {name: maximum, "limit": parameter(openapi, path, "limit")["schema"]["maximum"]}
    assert client.get(path, params=deepest, headers=admin.headers).status_code == 200


# --- undeclared methods ----------------------------------------------------------------------------------


def declared_methods(openapi: dict[str, Any], path: str) -> set[str]:
    return {method.upper() for method in openapi["paths"][path]}


@pytest.mark.parametrize(
    ("method", "url", "path"),
    [
        ("GET", "/v1/documents/upload", "/v1/documents/upload"),
        ("PUT", f"/v1/documents/{uuid.uuid4()}", "/v1/documents/{document_id}"),
        ("POST", "/v1/sources/a-name", "/v1/sources/{name}"),
        ("GET", "/ingest", "/ingest"),
    ],
)
def test_undeclared_methods_get_405_with_a_true_allow(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, method: str, url: str, path: str
) -> None:
    answer = client.request(method, url, headers=admin.headers)
    assert answer.status_code == 405, answer.text
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert allowed - {"OPTIONS"} == declared_methods(openapi, path)
    assert all(m in answer.json()["detail"] for m in declared_methods(openapi, path))


@pytest.mark.parametrize(
    ("url", "path"),
    [("/v1/sources/a-name", "/v1/sources/{name}"), ("/v1/documents/upload", "/v1/documents/upload")],
)
def test_options_answers_agree_with_allow(
    openapi: dict[str, Any], client: TestClient, url: str, path: str
) -> None:
    answer = client.options(url)
    assert answer.status_code == 204
    assert {m.strip() for m in answer.headers["allow"].split(",")} == declared_methods(openapi, path) | {
        "OPTIONS"
    }


# --- links -----------------------------------------------------------------------------------------------


def resolved_links(
    openapi: dict[str, Any], path: str, method: str, status: str
) -> Iterator[tuple[str, str, dict]]:
    """(target path, target method, link parameters) for each link of the response."""
    for link in openapi["paths"][path][method]["responses"][status].get("links", {}).values():
        pointer = unquote(link["operationRef"].removeprefix("#/paths/"))
        target_path, target_method = pointer.rsplit("/", 1)
        yield target_path.replace("~1", "/").replace("~0", "~"), target_method, link["parameters"]


@pytest.mark.parametrize(
    ("path", "method", "status", "targets"),
    [
        (
            "/v1/documents",
            "post",
            "202",
            {
                ("/v1/jobs/{job_id}", "get"),
                ("/v1/documents/{document_id}", "get"),
                ("/v1/documents/{document_id}", "delete"),
            },
        ),
        (
            "/ingest",
            "post",
            "202",
            {
                ("/v1/jobs/{job_id}", "get"),
                ("/v1/documents/{document_id}", "get"),
                ("/v1/documents/{document_id}", "delete"),
            },
        ),
        (
            "/v1/sources",
            "post",
            "201",
            {
                ("/v1/sources/{name}", "get"),
                ("/v1/sources/{name}", "put"),
                ("/v1/sources/{name}", "patch"),
                ("/v1/sources/{name}", "delete"),
                ("/v1/sources/{name}/sync", "post"),
            },
        ),
    ],
)
def test_links_tie_creating_routes_to_the_routes_that_use_what_they_create(
    openapi: dict[str, Any], path: str, method: str, status: str, targets: set[tuple[str, str]]
) -> None:
    links = list(resolved_links(openapi, path, method, status))
    assert {(target, verb) for target, verb, _ in links} == targets
    for target, verb, parameters in links:
        declared = {p["name"] for p in openapi["paths"][target][verb].get("parameters", [])}
        assert set(parameters) <= declared, (target, verb, parameters)


def test_a_link_from_a_created_source_reaches_it(
    client: TestClient, admin: TestKey, openapi: dict[str, Any]
) -> None:
    created = client.post(
        "/v1/sources",
        json={"name": f"linked-{uuid.uuid4().hex[:8]}", "type": "rss", "url": "http://127.0.0.1:9/f.xml"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    reads = [link for link in resolved_links(openapi, "/v1/sources", "post", "201") if link[1] == "get"]
    assert reads
    for target, _, parameters in reads:
        values = {
            name: created.json()[expression.rsplit("/", 1)[1]] for name, expression in parameters.items()
        }
        answer = client.get(
            target.format(**values), params={"tenant": values["tenant"]}, headers=admin.headers
        )
        assert answer.status_code == 200 and answer.json()["id"] == created.json()["id"]


# --- what PostgreSQL cannot store, and what the source registry takes -------------------------------------


@pytest.mark.parametrize(
    "body",
    [{"text": "a\x00b"}, {"text": "words", "title": "a\x00"}, {"text": "words", "metadata": {"k\x00": 1}}],
    ids=["text", "title", "metadata key"],
)
def test_a_nul_is_refused_and_the_schema_says_so(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, body: dict[str, Any]
) -> None:
    assert not allows(openapi, request_body_schema(openapi, "/v1/documents"), body)
    assert client.post("/v1/documents", json=body, headers=admin.headers).status_code == 422


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/insights/sentiment", "source"),
        ("/v1/search", "q"),
        ("/v1/search", "entity"),
        ("/v1/sources", "tenant"),
    ],
)
def test_a_nul_in_a_query_value_is_refused_and_the_schema_says_so(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, path: str, name: str
) -> None:
    assert not allows(openapi, parameter(openapi, path, name)["schema"], "a\x00b")
    answer = client.get(path, params={name: "a\x00b"}, headers=admin.headers)
    assert answer.status_code == 422 and name in answer.text, answer.text


SOURCE = {"name": "contract", "type": "rss", "url": "http://127.0.0.1:9/f.xml"}


@pytest.mark.parametrize(
    ("changes", "valid"),
    [
        ({}, True),
        ({"interval": "5m"}, True),
        ({"interval": 300}, True),
        ({"interval": 300.0}, True),
        ({"interval": "1s"}, False),
        ({"interval": "31d"}, False),
        ({"type": "no-such-type"}, False),
        ({"url": None, "urls": ["http://127.0.0.1:9/a"]}, False),
        ({"type": "url_list", "url": None, "urls": ["http://127.0.0.1:9/a"]}, True),
        ({"type": "url_list", "urls": ["http://127.0.0.1:9/a"]}, False),
    ],
)
def test_source_types_locations_and_intervals_are_in_the_schema(
    openapi: dict[str, Any], client: TestClient, admin: TestKey, changes: dict[str, Any], valid: bool
) -> None:
    body = {**SOURCE, **changes, "name": f"contract-{uuid.uuid4().hex[:8]}"}
    assert allows(openapi, request_body_schema(openapi, "/v1/sources"), body) is valid
    answer = client.post("/v1/sources", json=body, headers=admin.headers)
    assert (answer.status_code == 201) is valid, answer.text


def test_a_patch_that_does_not_fit_the_source_is_a_conflict(
    openapi: dict[str, Any], client: TestClient, admin: TestKey
) -> None:
    name = f"contract-{uuid.uuid4().hex[:8]}"
    assert client.post("/v1/sources", json={**SOURCE, "name": name}, headers=admin.headers).status_code == 201
    patch = {"urls": ["http://127.0.0.1:9/a"]}  # well formed, but a feed takes no `urls`
    assert allows(openapi, request_body_schema(openapi, "/v1/sources/{name}", "patch"), patch)
    assert client.patch(f"/v1/sources/{name}", json=patch, headers=admin.headers).status_code == 409
    assert not allows(openapi, request_body_schema(openapi, "/v1/sources/{name}", "patch"), {"type": None})
    assert client.patch(f"/v1/sources/{name}", json={"type": None}, headers=admin.headers).status_code == 422


# --- the handbook's POST /ingest -------------------------------------------------------------------------


def test_post_ingest_is_a_documented_alias_of_post_documents(
    openapi: dict[str, Any], client: TestClient, admin: TestKey
) -> None:
    alias = openapi["paths"]["/ingest"]["post"]
    assert alias["x-alias-of"] == "POST /v1/documents"
    assert alias["requestBody"] == openapi["paths"]["/v1/documents"]["post"]["requestBody"]
    answer = client.post(
        "/ingest", json={"text": f"Ingested by its handbook name {uuid.uuid4()}"}, headers=admin.headers
    )
    assert answer.status_code == 202, answer.text
    job = client.get(f"/v1/jobs/{answer.json()['job_id']}", headers=admin.headers)
    assert job.status_code == 200 and job.json()["document_id"] == answer.json()["document_id"]
    refused = client.post("/ingest", json={"text": "a", "url": "http://127.0.0.1:9/a"}, headers=admin.headers)
    assert refused.status_code == 422


def test_the_handbook_curl_form_names_the_right_form(client: TestClient, admin: TestKey) -> None:
    """Handbook §8.1: `curl -H "X-API-Key: …" …/ingest` sends a GET with no body."""
    answer = client.get("/ingest", headers=admin.headers)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "OPTIONS, POST"
    assert "POST" in answer.json()["detail"]


def test_a_json_body_sent_the_curl_d_way_names_the_right_form(client: TestClient, admin: TestKey) -> None:
    """`curl -H "X-API-Key: …" -d '{"text": …}' …/ingest` sends the JSON as a urlencoded form."""
    form_headers = {**admin.headers, "Content-Type": "application/x-www-form-urlencoded"}
    answer = client.post("/ingest", content=b'{"text": "Sent the curl -d way"}', headers=form_headers)
    assert answer.status_code == 422
    assert "Content-Type: application/json" in answer.text
