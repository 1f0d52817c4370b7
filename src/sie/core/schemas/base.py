"""What every body shares: the names of priorities, strategies and statuses, and `StrictModel`."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    GetPydanticSchema,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypeAliasType

PriorityName = Literal["low", "normal", "high"]
OcrStrategyName = Literal["auto", "ocr_only", "no_ocr"]
JobStatusName = Literal["pending", "running", "done", "failed", "dead"]


def _storable(value: object) -> object:
    """Refuse what PostgreSQL cannot store: NUL characters, unpaired surrogates, NaN and infinities.

    Walks nested metadata with its own stack, so depth costs no recursion.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("must not contain NUL characters")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must not contain unpaired surrogate code points") from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must be a finite number")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return value


# `_storable`'s rule as a schema says it: no NUL in a string. (JSON has no NaN or infinity, and an
# unpaired surrogate is not UTF-8: the other refusals need no words.)
WITHOUT_NUL = "^[^\\x00]*$"
StorableText = Annotated[str, WithJsonSchema({"type": "string", "pattern": WITHOUT_NUL})]


class _KeysWithoutNul:
    """An object's keys are storable text too: JSON Schema's `propertyNames`."""

    @staticmethod
    def __get_pydantic_json_schema__(
        core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(core_schema), "propertyNames": {"pattern": WITHOUT_NUL}}


# What free-form JSON (a document's metadata) may hold, for the schema: strings, keys included, are
# storable text.
_StorableObject = TypeAliasType("StorableObject", "Annotated[dict[str, _StorableJson], _KeysWithoutNul]")
_StorableJson = TypeAliasType(
    "StorableJson", "StorableText | int | float | bool | list[_StorableJson] | _StorableObject | None"
)
# Validated as any JSON object (at any depth; `StrictModel` refuses what cannot be stored), and
# documented as `StorableObject`.
StorableObject = Annotated[
    dict[str, Any],
    GetPydanticSchema(
        get_pydantic_json_schema=lambda _, handler: handler(TypeAdapter(_StorableObject).core_schema)
    ),
]


def _declare_without_nul(schema: dict[str, Any]) -> None:
    """Give each string of a body's schema (in unions and arrays too) the NUL-free pattern, unless
    it has a pattern, format or enum of its own (none of which admits a NUL)."""
    if schema.get("type") == "string" and not schema.keys() & {"pattern", "format", "enum", "const"}:
        schema["pattern"] = WITHOUT_NUL
    for branch in schema.get("anyOf", []):
        _declare_without_nul(branch)
    if isinstance(schema.get("items"), dict):
        _declare_without_nul(schema["items"])


class StrictModel(BaseModel):
    # A typo in a field name is an error the client should hear about, not a silent default.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _values_are_storable(cls, value: object) -> object:
        return _storable(value)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(core_schema)
        for field_schema in handler.resolve_ref_schema(json_schema).get("properties", {}).values():
            _declare_without_nul(field_schema)
        return json_schema


# RFC 3339's `full-date`, or its `date-time` (seconds and an offset required): what OpenAPI's `date`
# and `date-time` formats mean. Pydantic alone also reads numbers (`0.5`, `"1e9"`) as Unix times.
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
RFC3339_DATE_OR_DATE_TIME = re.compile(rf"{_DATE}([Tt]{_TIME})?", re.ASCII)


def _rfc3339_only(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and RFC3339_DATE_OR_DATE_TIME.fullmatch(value):
        return value
    raise ValueError("must be a date (2026-01-31) or an RFC 3339 date-time (2026-01-31T12:00:00Z)")


# A date or a time a client sends (search and insight windows, replay windows); a date alone means
# its midnight.
DateTimeInput = Annotated[
    datetime,
    BeforeValidator(_rfc3339_only),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    ),
]
