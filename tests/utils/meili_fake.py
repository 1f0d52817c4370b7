"""An in-process HTTP fake of Meilisearch 1.15, held to Meilisearch's own OpenAPI document.

No Meilisearch server can run here, so the adapter is tested against this fake on a real socket.
It models what the adapter uses: health, indexes, settings, document upserts and deletions,
search (filter grammar, sort, highlight, crop, pagination) and the task queue, with bearer-key
auth. Like the real engine it refuses to filter on an attribute that is not filterable, so an
adapter that forgets its settings fails here as it would in production.

Every request and every response is checked against `../shared/schemas/meilisearch-openapi-1.15.2.json`
(read from beside the checkout, never copied): the method and path must be documented, query
parameters and JSON bodies must match the documented schemas. Mismatches are collected in
`MeiliFake.violations`; the `meili_fake` fixture fails the test when any were seen.

Where the published document contradicts the server it describes, the fake follows the server
and corrects the document in memory (`SPEC_CORRECTIONS`, each with its reason). Not checked:
string formats other than `date-time` (e.g. `u-int32`), and response headers.

Tasks only advance when polled: a task is `enqueued` on its first GET and processed (with all
earlier tasks, in order) on the next. That keeps tests deterministic and makes an adapter that
forgets to wait for its tasks fail.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "schemas" / "meilisearch-openapi-1.15.2.json"
SPEC_URI = "urn:sie-tests:meilisearch-openapi-1.15.2"

# The real server serves delete-batch under /documents, as the official clients call it; the
# document lists the route one level up. Requests on the real path are checked against it.
PATH_ALIASES = {("POST", "/indexes/{indexUid}/documents/delete-batch"): "/indexes/{indexUid}/delete-batch"}
DEFAULT_MAX_TOTAL_HITS = 1000
MAX_QUERY_WORDS = 10


# -- the OpenAPI contract ----------------------------------------------------------------------


def _correct_search_query(spec: dict[str, Any]) -> None:
    """SearchQuery lists the Rust field names (snake_case) and marks every defaulted field as
    required; the HTTP API takes camelCase names, all optional, and refuses unknown ones."""
    schema = spec["components"]["schemas"]["SearchQuery"]
    schema["properties"] = {_camel(name): value for name, value in schema["properties"].items()}
    schema.pop("required", None)
    schema["additionalProperties"] = False


def _correct_task_details(spec: dict[str, Any]) -> None:
    """DetailsView renders Rust's `#[serde(flatten)] Option<Settings>` as an allOf whose first
    member forbids every non-settings key, so no real `details` object (receivedDocuments,
    deletedDocuments...) could validate; it is the union of both property sets."""
    schemas = spec["components"]["schemas"]
    own = next(part for part in schemas["DetailsView"]["allOf"] if "properties" in part)
    schemas["DetailsView"] = {
        "type": "object",
        "properties": {**schemas["Settings_Unchecked"]["properties"], **own["properties"]},
        "additionalProperties": False,
    }


def _correct_csv_delimiter(spec: dict[str, Any]) -> None:
    """`csvDelimiter` is marked required on document routes; it only applies to CSV payloads
    and no client sends it with JSON."""
    for operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "csvDelimiter":
                parameter["required"] = False


SPEC_CORRECTIONS: list[Callable[[dict[str, Any]], None]] = [
    _correct_search_query,
    _correct_task_details,
    _correct_csv_delimiter,
]


def _operations(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for methods in spec["paths"].values():
        yield from (
            op for method, op in methods.items() if method in {"get", "post", "put", "patch", "delete"}
        )


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # the path as the OpenAPI document spells it
    spec: dict[str, Any]
    path_params: dict[str, str]

    @property
    def needs_auth(self) -> bool:
        return bool(self.spec.get("security"))


class OpenApiContract:
    """Meilisearch's OpenAPI document, as a checker of single requests and responses."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: tests read the Meilisearch OpenAPI document from there"
            )
        self.spec = json.loads(path.read_text())
        for correct in SPEC_CORRECTIONS:
            correct(self.spec)
        self._registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, Resource(contents=self.spec, specification=DRAFT202012)
        )
        self._formats = FormatChecker(formats=())
        self._formats.checks("date-time", raises=ValueError)(_is_rfc3339)
        self._validators: dict[str, Draft202012Validator] = {}
        # Literal segments first, so `/documents/delete` wins over `/documents/{documentId}`.
        templates = sorted(self.spec["paths"], key=lambda t: (t.count("{"), -len(t)))
        self._routes = [(template, _template_regex(template)) for template in templates]

    def find(self, method: str, path: str) -> Operation | None:
        for (alias_method, real), documented in PATH_ALIASES.items():
            if alias_method == method and (match := _template_regex(real).fullmatch(path)):
                return Operation(method, documented, self._op(documented, method), match.groupdict())
        for template, regex in self._routes:
            if template in PATH_ALIASES.values():
                continue  # the real server does not serve the misdocumented path
            match = regex.fullmatch(path)
            if match and method.lower() in self.spec["paths"][template]:
                return Operation(method, template, self._op(template, method), match.groupdict())
        return None

    def check_request(self, op: Operation, query: dict[str, str], body: Any, has_body: bool) -> list[str]:
        problems: list[str] = []
        documented = {p["name"]: p for p in op.spec.get("parameters", []) if p["in"] == "query"}
        for name, value in query.items():
            if name not in documented:
                problems.append(f"query parameter {name!r} is not documented")
                continue
            schema_type = documented[name].get("schema", {}).get("type")
            coerced: Any = int(value) if schema_type == "integer" and value.lstrip("-").isdigit() else value
            index = next(i for i, p in enumerate(op.spec["parameters"]) if p is documented[name])
            problems += self._errors(coerced, self._op_pointer(op, "parameters", str(index), "schema"))
        problems += [
            f"required query parameter {name!r} missing"
            for name, p in documented.items()
            if p.get("required") and name not in query
        ]
        request_body = op.spec.get("requestBody")
        if request_body is None:
            if has_body:
                problems.append("a body was sent to an operation that takes none")
        elif not has_body:
            if request_body.get("required"):
                problems.append("the required request body is missing")
        elif "application/json" in request_body["content"]:
            pointer = self._op_pointer(op, "requestBody", "content", "application/json", "schema")
            problems += self._errors(body, pointer)
        return [f"request {op.method} {op.template}: {p}" for p in problems]

    def check_response(self, op: Operation, status: int, body: Any) -> list[str]:
        responses = op.spec["responses"]
        if str(status) in responses:
            documented_status = str(status)
        elif status == 202 and "200" in responses:
            # Meilisearch answers 202 Accepted to every request that enqueues a task; the
            # document lists most of them as 200.
            documented_status = "200"
        elif status >= 400:
            # Every Meilisearch error has this one shape, listed or not.
            return [
                f"response {status} to {op.method} {op.template}: {p}"
                for p in self._errors(body, _pointer("components", "schemas", "ResponseError"))
            ]
        else:
            return [f"response {status} to {op.method} {op.template} is not a documented status"]
        content = responses[documented_status].get("content", {})
        if "application/json" not in content:
            return (
                []
                if body is None
                else [f"response {status} to {op.method} {op.template} has an undocumented body"]
            )
        pointer = self._op_pointer(
            op, "responses", documented_status, "content", "application/json", "schema"
        )
        return [f"response {status} to {op.method} {op.template}: {p}" for p in self._errors(body, pointer)]

    def _op(self, template: str, method: str) -> dict[str, Any]:
        return self.spec["paths"][template][method.lower()]

    def _op_pointer(self, op: Operation, *parts: str) -> str:
        return _pointer("paths", op.template, op.method.lower(), *parts)

    def _errors(self, instance: Any, pointer: str) -> list[str]:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{SPEC_URI}#{pointer}"}, registry=self._registry, format_checker=self._formats
            )
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
            for error in self._validators[pointer].iter_errors(instance)
        ]


@cache
def default_contract() -> OpenApiContract:
    """Parsed once per test session: the document is large."""
    return OpenApiContract()


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)))


def _is_rfc3339(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value)
    return True


# -- the filter language (the grammar of Meilisearch's filter-parser) ----------------------------


class FilterError(Exception):
    """What Meilisearch reports as `invalid_search_filter`."""


class FakeLimitation(Exception):
    """Valid Meilisearch input this fake does not model: recorded as a violation, never hidden."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "value", "op", "(", ")", "[", "]", ","
    text: str
    quoted: bool = False


_KEYWORDS = {"AND", "OR", "NOT", "IN", "TO", "EXISTS", "IS", "NULL", "EMPTY", "CONTAINS", "STARTS", "WITH"}
_OPERATORS = ("!=", ">=", "<=", "=", ">", "<")


def _unescape(raw: str, quote: str) -> str:
    """`\\<quote>` first, then Rust-style backslash escapes, as the real parser does."""
    value = raw.replace("\\" + quote, quote)
    out: list[str] = []
    chars = iter(value)
    simple = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t", "0": "\0"}
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, None)
        if escaped is None:
            raise FilterError("incomplete escape at the end of a value")
        if escaped not in simple:
            raise FilterError(f"invalid escape `\\{escaped}`")
        out.append(simple[escaped])
    return "".join(out)


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(expression):
        char = expression[i]
        if char.isspace():
            i += 1
        elif char in "()[],":
            tokens.append(_Token(char, char))
            i += 1
        elif op := next((o for o in _OPERATORS if expression.startswith(o, i)), None):
            tokens.append(_Token("op", op))
            i += len(op)
        elif char in "\"'":
            j = i + 1
            while j < len(expression) and expression[j] != char:
                j += 2 if expression[j] == "\\" else 1
            if j >= len(expression):
                raise FilterError(f"missing closing `{char}`")
            tokens.append(_Token("value", _unescape(expression[i + 1 : j], char), quoted=True))
            i = j + 1
        else:
            j = i
            while j < len(expression) and (expression[j].isalnum() or expression[j] in "_-."):
                j += 1
            if j == i:
                raise FilterError(f"unexpected character `{char}` at {i + 1}")
            tokens.append(_Token("value", expression[i:j]))
            i = j
    return tokens


Node = tuple[Any, ...]


class _FilterParser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokenize(expression)
        self.pos = 0

    def parse(self) -> Node:
        node = self._or()
        if self.pos != len(self.tokens):
            raise FilterError(f"unexpected `{self.tokens[self.pos].text}`")
        return node

    def _peek_keyword(self, word: str, ahead: int = 0) -> bool:
        at = self.pos + ahead
        token = self.tokens[at] if at < len(self.tokens) else None
        return token is not None and token.kind == "value" and not token.quoted and token.text == word

    def _next(self) -> _Token:
        if self.pos >= len(self.tokens):
            raise FilterError("unexpected end of filter")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _or(self) -> Node:
        parts = [self._and()]
        while self._peek_keyword("OR"):
            self.pos += 1
            parts.append(self._and())
        return ("or", parts) if len(parts) > 1 else parts[0]

    def _and(self) -> Node:
        parts = [self._not()]
        while self._peek_keyword("AND"):
            self.pos += 1
            parts.append(self._not())
        return ("and", parts) if len(parts) > 1 else parts[0]

    def _not(self) -> Node:
        if self._peek_keyword("NOT"):
            self.pos += 1
            return ("not", self._not())
        return self._primary()

    def _primary(self) -> Node:
        if self.pos < len(self.tokens) and self.tokens[self.pos].kind == "(":
            self.pos += 1
            node = self._or()
            if self._next().kind != ")":
                raise FilterError("missing closing `)`")
            return node
        attribute = self._value()
        if self._peek_keyword("EXISTS"):
            self.pos += 1
            return ("exists", attribute)
        if self._peek_keyword("NOT") and self._peek_keyword("EXISTS", 1):
            self.pos += 2
            return ("not", ("exists", attribute))
        if self._peek_keyword("NOT") and self._peek_keyword("IN", 1):
            self.pos += 2
            return ("not", ("in", attribute, self._value_list()))
        if self._peek_keyword("IN"):
            self.pos += 1
            return ("in", attribute, self._value_list())
        if any(self._peek_keyword(word) for word in ("IS", "CONTAINS", "STARTS")):
            raise FakeLimitation(
                f"filter operator `{self.tokens[self.pos].text}` is not modelled by the fake"
            )
        token = self._next()
        if token.kind == "value":  # `attribute low TO high`
            if not self._peek_keyword("TO"):
                raise FilterError(f"expected an operator after `{attribute}`")
            self.pos += 1
            return ("to", attribute, _number(token.text), _number(self._value()))
        if token.kind != "op":
            raise FilterError(f"expected an operator after `{attribute}`")
        value = self._value()
        if token.text in ("=", "!="):
            node: Node = ("eq", attribute, value)
            return ("not", node) if token.text == "!=" else node
        return ("cmp", attribute, token.text, _number(value))

    def _value(self) -> str:
        token = self._next()
        if token.kind != "value" or (not token.quoted and token.text in _KEYWORDS):
            raise FilterError(f"expected a value, found `{token.text}`")
        return token.text

    def _value_list(self) -> list[str]:
        if self._next().kind != "[":
            raise FilterError("expected `[` after IN")
        values: list[str] = []
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind != "]":
            values.append(self._value())
            if self.pos < len(self.tokens) and self.tokens[self.pos].kind == ",":
                self.pos += 1
        if self._next().kind != "]":
            raise FilterError("missing closing `]`")
        return values


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FilterError(f"`{text}` is not a valid number") from None


def parse_filter(value: Any) -> Node | None:
    """A search's `filter` (string, or array meaning AND of strings / OR-arrays) as one tree."""
    if value is None:
        return None
    if isinstance(value, str):
        return _FilterParser(value).parse() if value.strip() else None
    if isinstance(value, list):
        parts: list[Node] = []
        for item in value:
            if isinstance(item, str):
                if (node := parse_filter(item)) is not None:
                    parts.append(node)
            elif isinstance(item, list) and all(isinstance(x, str) for x in item):
                alternatives = [n for x in item if (n := parse_filter(x)) is not None]
                if alternatives:
                    parts.append(("or", alternatives))
            else:
                raise FilterError("filter arrays may hold strings and arrays of strings only")
        return ("and", parts) if parts else None
    raise FilterError("filter must be a string or an array")


def filter_attributes(node: Node) -> set[str]:
    kind = node[0]
    if kind in ("and", "or"):
        return set().union(*(filter_attributes(child) for child in node[1]))
    if kind == "not":
        return filter_attributes(node[1])
    return {node[1]}


def _field_values(document: dict[str, Any], attribute: str) -> list[Any] | None:
    value: Any = document
    for part in attribute.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, list) else [value]


def _facet_string(value: str) -> str:
    # Meilisearch stores facet strings trimmed and lowercased: string filters ignore case.
    return value.strip().lower()


def _equals(candidate: Any, wanted: str) -> bool:
    if isinstance(candidate, bool):
        return str(candidate).lower() == wanted.strip().lower()
    if isinstance(candidate, int | float):
        try:
            return float(wanted) == candidate
        except ValueError:
            return False
    return isinstance(candidate, str) and _facet_string(candidate) == _facet_string(wanted)


def _compare(candidate: Any, operator: str, bound: float) -> bool:
    if isinstance(candidate, bool) or not isinstance(candidate, int | float):
        return False
    return {
        ">": candidate > bound,
        ">=": candidate >= bound,
        "<": candidate < bound,
        "<=": candidate <= bound,
    }[operator]


def matches_filter(node: Node, document: dict[str, Any]) -> bool:
    kind = node[0]
    if kind == "and":
        return all(matches_filter(child, document) for child in node[1])
    if kind == "or":
        return any(matches_filter(child, document) for child in node[1])
    if kind == "not":
        return not matches_filter(node[1], document)
    if kind == "exists":
        return _field_values(document, node[1]) is not None
    values = _field_values(document, node[1]) or []
    if kind == "eq":
        return any(_equals(v, node[2]) for v in values)
    if kind == "in":
        return any(_equals(v, wanted) for v in values for wanted in node[2])
    if kind == "cmp":
        return any(_compare(v, node[2], node[3]) for v in values)
    return any(_compare(v, ">=", node[2]) and _compare(v, "<=", node[3]) for v in values)  # "to"


# -- text: matching, highlighting, cropping ----------------------------------------------------

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class _Terms:
    """The query's words; the last one also matches as a prefix (search-as-you-type)."""

    words: list[str]

    def match(self, token: str) -> int:
        """How many leading characters of `token` a query word matches (0: none)."""
        lowered = token.lower()
        if lowered in self.words:
            return len(token)
        last = self.words[-1] if self.words else ""
        return len(last) if last and lowered.startswith(last) else 0

    def matched_words(self, text: str) -> set[str]:
        tokens = {t.lower() for t in _WORD.findall(text)}
        found = {w for w in self.words if w in tokens}
        last = self.words[-1] if self.words else ""
        if last and any(t.startswith(last) for t in tokens):
            found.add(last)
        return found


def _highlight(text: str, terms: _Terms, pre: str, post: str) -> str:
    def mark(match: re.Match[str]) -> str:
        token = match.group(0)
        length = terms.match(token)
        return f"{pre}{token[:length]}{post}{token[length:]}" if length else token

    return _WORD.sub(mark, text)


def _crop(text: str, terms: _Terms, length: int, marker: str) -> str:
    spans = [m.span() for m in _WORD.finditer(text)]
    if length == 0 or len(spans) <= length:
        return text
    first = next((i for i, (s, e) in enumerate(spans) if terms.match(text[s:e])), None)
    start = 0 if first is None else max(0, min(first - (length - 1) // 2, len(spans) - length))
    end = start + length
    cropped = text[spans[start][0] : spans[end - 1][1]]
    return (marker if start > 0 else "") + cropped + (marker if end < len(spans) else "")


def _as_formatted(value: Any) -> Any:
    """`_formatted` holds numbers as strings."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return [_as_formatted(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_formatted(v) for k, v in value.items()}
    return value


def _searchable_text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_searchable_text(v) for v in value)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return ""


# -- the server's state ------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, error_type: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        return {
            "message": str(self),
            "code": self.code,
            "type": self.error_type,
            "link": f"https://docs.meilisearch.com/errors#{self.code}",
        }


DEFAULT_SETTINGS: dict[str, Any] = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["*"],
    "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    "stopWords": [],
    "synonyms": {},
    "distinctAttribute": None,
    "pagination": {"maxTotalHits": DEFAULT_MAX_TOTAL_HITS},
}
_INDEX_UID = re.compile(r"[A-Za-z0-9_-]{1,400}")
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,511}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class FakeIndex:
    uid: str
    primary_key: str | None
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    settings: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_SETTINGS))
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "primaryKey": self.primary_key,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


class TaskFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = ApiError(400, code, message).body()


@dataclass
class FakeTask:
    uid: int
    index_uid: str
    type: str
    run: Callable[[], dict[str, Any]]  # applies the task; returns its `details`
    details: dict[str, Any]
    enqueued_at: str = field(default_factory=_now)
    status: str = "enqueued"
    error: dict[str, Any] | None = None
    started_at: str | None = None
    finished_at: str | None = None
    polls: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "taskUid": self.uid,
            "indexUid": self.index_uid,
            "status": self.status,
            "type": self.type,
            "enqueuedAt": self.enqueued_at,
        }

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uid": self.uid,
            "batchUid": self.uid if self.finished_at else None,
            "indexUid": self.index_uid,
            "status": self.status,
            "type": self.type,
            "canceledBy": None,
            "details": self.details,
            "error": self.error,
            "duration": "PT0.001S" if self.finished_at else None,
            "enqueuedAt": self.enqueued_at,
        }
        # The server sends null until they happen; the document types them as plain strings.
        if self.started_at:
            view["startedAt"] = self.started_at
        if self.finished_at:
            view["finishedAt"] = self.finished_at
        return view


Response = tuple[int, Any]


class MeiliFake:
    """The fake server: `start()` serves it on 127.0.0.1, `url` and `api_key` reach it."""

    def __init__(self, api_key: str = "sie-test-master-key", contract: OpenApiContract | None = None) -> None:
        self.api_key = api_key
        self.contract = contract or default_contract()
        self.indexes: dict[str, FakeIndex] = {}
        self.tasks: list[FakeTask] = []
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        # Seconds to sit on each request before answering, to exercise client timeouts.
        self.response_delay = 0.0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[tuple[str, str], Callable[..., Response]] = {
            ("GET", "/health"): self._health,
            ("GET", "/indexes"): self._list_indexes,
            ("POST", "/indexes"): self._create_index,
            ("GET", "/indexes/{indexUid}"): self._get_index,
            ("GET", "/indexes/{indexUid}/settings"): self._get_settings,
            ("PATCH", "/indexes/{indexUid}/settings"): self._update_settings,
            ("POST", "/indexes/{indexUid}/documents"): self._add_documents,
            ("POST", "/indexes/{indexUid}/delete-batch"): self._delete_documents,
            ("POST", "/indexes/{indexUid}/search"): self._search,
            ("GET", "/tasks/{taskUid}"): self._get_task,
        }

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="meili-fake", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def process_tasks(self) -> None:
        """Run every enqueued task now, as the real engine eventually would."""
        with self._lock:
            self._process_until(len(self.tasks))

    def task_types(self) -> list[str]:
        return [task.type for task in self.tasks]

    # -- one request ----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> Response:
        if self.response_delay:
            time.sleep(self.response_delay)
        parts = urlsplit(target)
        query = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append((method, parts.path))
            op = self.contract.find(method, parts.path)
            if op is None:
                self.violations.append(f"{method} {parts.path} is not an operation of the OpenAPI document")
                return 404, None
            try:
                status, body = self._dispatch(op, query, headers, raw_body)
            except ApiError as exc:
                status, body = exc.status, exc.body()
            except FakeLimitation as exc:
                self.violations.append(f"{method} {parts.path}: {exc}")
                return 501, None
            self.violations += self.contract.check_response(op, status, body)
            return status, body

    def _dispatch(
        self, op: Operation, query: dict[str, str], headers: dict[str, str], raw_body: bytes
    ) -> Response:
        if op.needs_auth:
            authorization = headers.get("authorization")
            if not authorization:
                raise ApiError(
                    401, "missing_authorization_header", "The Authorization header is missing.", "auth"
                )
            if authorization != f"Bearer {self.api_key}":
                raise ApiError(403, "invalid_api_key", "The provided API key is invalid.", "auth")
        body: Any = None
        if op.method in ("POST", "PUT", "PATCH"):
            content_type = headers.get("content-type")
            if content_type is None:
                raise ApiError(415, "missing_content_type", "A Content-Type header is required.")
            if content_type.split(";")[0].strip() != "application/json":
                raise ApiError(415, "invalid_content_type", f"The Content-Type `{content_type}` is invalid.")
            if not raw_body:
                raise ApiError(400, "missing_payload", "A json payload is missing.")
            try:
                body = json.loads(raw_body)
            except ValueError as exc:
                raise ApiError(400, "malformed_payload", f"The json payload is malformed: {exc}") from None
        problems = self.contract.check_request(op, query, body, has_body=bool(raw_body))
        if problems:
            self.violations += problems
            raise ApiError(400, "bad_request", "; ".join(problems))
        route = self._routes.get((op.method, op.template))
        if route is None:
            raise FakeLimitation(f"{op.method} {op.template} is documented but not modelled by the fake")
        path_params = {_snake(name): value for name, value in op.path_params.items()}
        return route(body=body, query=query, **path_params)

    # -- tasks ----------------------------------------------------------------------------------

    def _enqueue(
        self, index_uid: str, task_type: str, details: dict[str, Any], run: Callable[[], dict[str, Any]]
    ) -> Response:
        task = FakeTask(uid=len(self.tasks), index_uid=index_uid, type=task_type, run=run, details=details)
        self.tasks.append(task)
        return 202, task.summary()

    def _process_until(self, last_uid: int) -> None:
        for task in self.tasks[: last_uid + 1]:
            if task.status != "enqueued":
                continue
            task.started_at = _now()
            try:
                task.details = task.run()
                task.status = "succeeded"
            except TaskFailed as exc:
                task.status, task.error = "failed", exc.error
            task.finished_at = _now()

    def _get_task(self, task_uid: str, **_: Any) -> Response:
        if not task_uid.isdigit():
            raise ApiError(400, "invalid_task_uids", f"Task uid `{task_uid}` is invalid.")
        uid = int(task_uid)
        if uid >= len(self.tasks):
            raise ApiError(404, "task_not_found", f"Task `{uid}` not found.")
        task = self.tasks[uid]
        task.polls += 1
        if task.polls > 1:
            self._process_until(uid)
        return 200, task.view()

    # -- health and indexes ---------------------------------------------------------------------

    def _health(self, **_: Any) -> Response:
        return 200, {"status": "available"}

    def _index(self, uid: str) -> FakeIndex:
        if uid not in self.indexes:
            raise ApiError(404, "index_not_found", f"Index `{uid}` not found.")
        return self.indexes[uid]

    def _list_indexes(self, query: dict[str, str], **_: Any) -> Response:
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 20))
        views = [index.view() for index in self.indexes.values()]
        return 200, {
            "results": views[offset : offset + limit],
            "offset": offset,
            "limit": limit,
            "total": len(views),
        }

    def _get_index(self, index_uid: str, **_: Any) -> Response:
        return 200, self._index(index_uid).view()

    def _create_index(self, body: dict[str, Any], **_: Any) -> Response:
        uid, primary_key = body["uid"], body.get("primaryKey")
        _check_index_uid(uid)

        def run() -> dict[str, Any]:
            if uid in self.indexes:
                raise TaskFailed("index_already_exists", f"Index `{uid}` already exists.")
            self.indexes[uid] = FakeIndex(uid, primary_key)
            return {"primaryKey": primary_key}

        return self._enqueue(uid, "indexCreation", {"primaryKey": primary_key}, run)

    def _get_settings(self, index_uid: str, **_: Any) -> Response:
        return 200, copy.deepcopy(self._index(index_uid).settings)

    def _update_settings(self, index_uid: str, body: dict[str, Any], **_: Any) -> Response:
        _check_index_uid(index_uid)

        def run() -> dict[str, Any]:
            # Like the real engine, a settings update creates a missing index.
            index = self.indexes.setdefault(index_uid, FakeIndex(index_uid, None))
            for name, value in body.items():
                index.settings[name] = copy.deepcopy(DEFAULT_SETTINGS.get(name) if value is None else value)
            index.updated_at = _now()
            return body

        return self._enqueue(index_uid, "settingsUpdate", body, run)

    # -- documents ------------------------------------------------------------------------------

    def _add_documents(self, index_uid: str, body: Any, query: dict[str, str], **_: Any) -> Response:
        _check_index_uid(index_uid)
        documents = [body] if isinstance(body, dict) else body
        if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
            raise ApiError(400, "malformed_payload", "The payload must be an object or an array of objects.")
        requested_key = query.get("primaryKey")

        def run() -> dict[str, Any]:
            index = self.indexes.setdefault(index_uid, FakeIndex(index_uid, None))
            if requested_key and index.primary_key and requested_key != index.primary_key:
                raise TaskFailed(
                    "index_primary_key_already_exists",
                    f"Index `{index_uid}`: Index already has a primary key.",
                )
            primary_key = index.primary_key or requested_key
            if primary_key is None:
                raise TaskFailed("index_primary_key_no_candidate_found", "The primary key inference failed.")
            staged: dict[str, dict[str, Any]] = {}
            for document in documents:  # one bad document fails the whole task, as in Meilisearch
                if primary_key not in document:
                    raise TaskFailed(
                        "missing_document_id", f"Document doesn't have a `{primary_key}` attribute."
                    )
                staged[_document_id(document[primary_key])] = copy.deepcopy(document)
            index.primary_key = primary_key
            index.documents.update(staged)  # POST replaces whole documents
            index.updated_at = _now()
            return {"receivedDocuments": len(documents), "indexedDocuments": len(staged)}

        return self._enqueue(
            index_uid,
            "documentAdditionOrUpdate",
            {"receivedDocuments": len(documents), "indexedDocuments": None},
            run,
        )

    def _delete_documents(self, index_uid: str, body: list[Any], **_: Any) -> Response:
        ids = [str(i) for i in body]

        def run() -> dict[str, Any]:
            if index_uid not in self.indexes:
                raise TaskFailed("index_not_found", f"Index `{index_uid}` not found.")
            documents = self.indexes[index_uid].documents
            deleted = sum(documents.pop(i, None) is not None for i in ids)
            return {"providedIds": len(ids), "deletedDocuments": deleted}

        return self._enqueue(
            index_uid, "documentDeletion", {"providedIds": len(ids), "deletedDocuments": None}, run
        )

    # -- search ---------------------------------------------------------------------------------

    def _search(self, index_uid: str, body: dict[str, Any], **_: Any) -> Response:
        index = self._index(index_uid)
        if "page" in body or "hitsPerPage" in body:
            raise FakeLimitation("page/hitsPerPage pagination is not modelled by the fake")
        settings = index.settings
        try:
            tree = parse_filter(body.get("filter"))
        except FilterError as exc:
            raise ApiError(400, "invalid_search_filter", f"{exc}\n1:1 {body.get('filter')}") from None
        if tree is not None:
            _check_filterable(index, filter_attributes(tree))
        sort = [_sort_rule(rule, settings) for rule in body.get("sort") or []]

        q = body.get("q") or ""
        terms = _Terms(_WORD.findall(q.lower())[:MAX_QUERY_WORDS])
        searchable = settings["searchableAttributes"]
        candidates: list[tuple[tuple[Any, ...], float, dict[str, Any]]] = []
        for position, document in enumerate(index.documents.values()):
            if tree is not None and not matches_filter(tree, document):
                continue
            attributes = list(document) if searchable == ["*"] else searchable
            rank = _relevance(document, attributes, terms, body.get("matchingStrategy", "last"))
            if rank is None:
                continue
            words_matched, best_attribute = rank
            score = words_matched / len(terms.words) if terms.words else 1.0
            # Ranking rules: words, attribute, then the request's sort, then index order.
            order = (-words_matched, best_attribute, *[_sort_key(document, *rule) for rule in sort], position)
            candidates.append((order, score, document))
        candidates.sort(key=lambda c: c[0])

        max_total = (settings.get("pagination") or {}).get("maxTotalHits") or DEFAULT_MAX_TOTAL_HITS
        offset, limit = body.get("offset", 0), body.get("limit", 20)
        page = candidates[:max_total][offset : offset + limit]
        hits = [self._hit(document, score, terms, body, settings) for _, score, document in page]
        return 200, {
            "hits": hits,
            "query": q,
            "processingTimeMs": 0,
            "limit": limit,
            "offset": offset,
            "estimatedTotalHits": len(candidates),
        }

    def _hit(
        self,
        document: dict[str, Any],
        score: float,
        terms: _Terms,
        body: dict[str, Any],
        settings: dict[str, Any],
    ) -> dict[str, Any]:
        displayed = (
            list(document) if settings["displayedAttributes"] == ["*"] else settings["displayedAttributes"]
        )
        retrieve = _expand(body.get("attributesToRetrieve") or ["*"], displayed)
        highlight = _expand(body.get("attributesToHighlight") or [], displayed)
        crop_lengths = {}
        for entry in body.get("attributesToCrop") or []:
            name, _, length = entry.partition(":")
            for attribute in _expand([name], displayed):
                crop_lengths[attribute] = int(length) if length else body.get("cropLength", 10)
        hit = {name: document[name] for name in retrieve if name in document}
        if highlight or crop_lengths:
            formatted = {}
            for name in [*retrieve, *highlight, *crop_lengths]:
                if name not in document or name in formatted:
                    continue
                value = document[name]
                if isinstance(value, str) and name in crop_lengths:
                    value = _crop(value, terms, crop_lengths[name], body.get("cropMarker", "…"))
                if isinstance(value, str) and name in highlight:
                    value = _highlight(
                        value,
                        terms,
                        body.get("highlightPreTag", "<em>"),
                        body.get("highlightPostTag", "</em>"),
                    )
                formatted[name] = _as_formatted(value)
            hit["_formatted"] = formatted
        if body.get("showRankingScore"):
            hit["_rankingScore"] = score
        return hit


def _relevance(
    document: dict[str, Any], attributes: list[str], terms: _Terms, strategy: str
) -> tuple[int, int] | None:
    """(query words matched, first attribute matching) or None when the document does not match.

    `last` drops query words from the end until a document matches; `all` needs every word.
    """
    if not terms.words:
        return (0, 0)
    found: set[str] = set()
    best_attribute = len(attributes)
    for position, attribute in enumerate(attributes):
        matched = terms.matched_words(_searchable_text(document.get(attribute)))
        if matched and position < best_attribute:
            best_attribute = position
        found |= matched
    leading = 0
    for word in terms.words:
        if word not in found:
            break
        leading += 1
    if leading == 0 or (strategy == "all" and leading < len(terms.words)):
        return None
    return leading, best_attribute


def _expand(names: list[str], displayed: list[str]) -> list[str]:
    return list(displayed) if "*" in names else [n for n in names if n in displayed]


def _sort_rule(rule: str, settings: dict[str, Any]) -> tuple[str, bool]:
    attribute, _, direction = rule.rpartition(":")
    if direction not in ("asc", "desc") or not attribute:
        raise ApiError(400, "invalid_search_sort", f"Invalid syntax for the sort parameter: `{rule}`.")
    if attribute not in settings["sortableAttributes"]:
        available = ", ".join(sorted(settings["sortableAttributes"]))
        raise ApiError(
            400,
            "invalid_search_sort",
            f"Attribute `{attribute}` is not sortable. Available sortable attributes are: `{available}`.",
        )
    return attribute, direction == "desc"


def _sort_key(document: dict[str, Any], attribute: str, descending: bool) -> tuple[int, float]:
    value = document.get(attribute)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, -value if descending else value)
    return (1, 0.0)  # documents without a number sort last either way


def _check_filterable(index: FakeIndex, attributes: set[str]) -> None:
    rules = index.settings["filterableAttributes"]
    patterns: list[str] = []
    for rule in rules:
        patterns += [rule] if isinstance(rule, str) else rule["attributePatterns"]
    for attribute in sorted(attributes):
        if not any(fnmatch.fnmatchcase(attribute, pattern) for pattern in patterns):
            raise ApiError(
                400,
                "invalid_search_filter",
                f"Index `{index.uid}`: Attribute `{attribute}` is not filterable. "
                f"Available filterable attribute patterns are: `{', '.join(sorted(patterns))}`.",
            )


def _check_index_uid(uid: str) -> None:
    if not _INDEX_UID.fullmatch(uid):
        raise ApiError(400, "invalid_index_uid", f"`{uid}` is not a valid index uid.")


def _document_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and _DOCUMENT_ID.fullmatch(value):
        return value
    raise TaskFailed(
        "invalid_document_id",
        f"Document identifier `{json.dumps(value)}` is invalid. A document identifier can be of type "
        "integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and "
        "underscores (_).",
    )


def _handler_for(fake: MeiliFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, body = fake.handle(self.command, self.path, headers, raw_body)
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            try:
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows the fake's violations instead."""

    return Handler
