"""The OpenAPI document, completed with the rules enforced outside the route signatures.

Pydantic writes the document from `sie.core.schemas` and the routes. Which source `type`s exist, and
which of `url`/`urls` each takes, is the registry's (`sie.core.sources.registry`), a layer above the
schemas: it is added here, from the same table the CRD's rules are rendered from. So is the rule
that no query value holds a NUL (PostgreSQL cannot store or compare one), which one dependency of
the app enforces for every route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request

from sie.core.errors import InvalidRequest
from sie.core.schemas import WITHOUT_NUL
from sie.core.sources.config import Locations
from sie.core.sources.registry import SOURCE_TYPES

# The shape of a spec each `Locations` accepts; a null or absent field counts as not given.
_ONE_URL = {"required": ["url"], "properties": {"url": {"type": "string"}, "urls": {"maxItems": 0}}}
_SOME_URLS = {"required": ["urls"], "properties": {"urls": {"minItems": 1}, "url": {"type": "null"}}}
LOCATION_RULES: dict[Locations, dict[str, Any]] = {
    Locations.URL: _ONE_URL,
    Locations.URL_OR_URLS: {"oneOf": [_ONE_URL, _SOME_URLS]},
}
FULL_SPECS = ("SourceCreate", "SourceUpsert")
ALL_SPECS = (*FULL_SPECS, "SourceUpdate")


def source_locations_rule() -> dict[str, Any]:
    """`anyOf`: each group of types (by the locations they take) with its rule on `url`/`urls`."""
    branches = []
    for locations, rule in LOCATION_RULES.items():
        names = [name for name, entry in SOURCE_TYPES.items() if entry.locations is locations]
        if names:
            branches.append({"allOf": [{"properties": {"type": {"enum": names}}}, rule]})
    return {"anyOf": branches}


def add_source_rules(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ALL_SPECS:
        schemas[name]["properties"]["type"]["enum"] = list(SOURCE_TYPES)
    for name in FULL_SPECS:
        schemas[name].update(source_locations_rule())


async def refuse_nul_in_query(request: Request) -> None:
    """An app dependency: a 422 for a NUL in the query (a bytes check on the raw query first)."""
    if b"%00" in request.scope["query_string"]:
        names = [name for name, value in request.query_params.multi_items() if "\x00" in value]
        raise InvalidRequest(f"query values must not contain NUL characters: {', '.join(names) or 'a name'}")


def _query_text_schemas(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema of each free-text query parameter (or of its string branch)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for schema in (parameter["schema"], *parameter["schema"].get("anyOf", [])):
                    if schema.get("type") == "string" and not schema.keys() & {"pattern", "format", "enum"}:
                        yield schema


def add_query_rules(document: dict[str, Any]) -> None:
    for schema in _query_text_schemas(document):
        schema["pattern"] = WITHOUT_NUL


def complete_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and so `/openapi.json`) the document with the source rules."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI's cached document: the rules are set again, to the same values
        add_source_rules(document)
        add_query_rules(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
