"""kmock behind Kubernetes' RBAC authorizer: whatever the granted rules do not allow answers 403.

The operator's tests grant exactly the rules the chart renders (its Role in the operator's
namespace, its ClusterRole everywhere), so a missing grant, or a call the chart never meant to
allow (kopf listing namespaces), shows as a 403 and lands in `refused`. Requests that name no
resource (discovery: `/api`, `/apis/...`, `/version`) pass, as `system:discovery` lets every
authenticated client read them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp.web
import attrs
import kmock

_HTTP_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class Rule:
    """One PolicyRule of a Role or ClusterRole."""

    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str]

    @classmethod
    def of(cls, rule: Mapping[str, Any]) -> Rule:
        return cls(
            frozenset(rule.get("apiGroups", ())),
            frozenset(rule.get("resources", ())),
            frozenset(rule.get("verbs", ())),
            frozenset(rule.get("resourceNames", ())),
        )

    def allows(self, group: str, resource: str, verb: str, name: str | None) -> bool:
        return (
            _grants(self.api_groups, group)
            and _grants(self.resources, resource)
            and _grants(self.verbs, verb)
            and (not self.resource_names or name in self.resource_names)
        )


def _grants(granted: frozenset[str], wanted: str) -> bool:
    return "*" in granted or wanted in granted


def rules(manifest: Mapping[str, Any]) -> tuple[Rule, ...]:
    return tuple(Rule.of(rule) for rule in manifest["rules"])


@dataclass(frozen=True)
class ResourceRequest:
    """What the authorizer sees of a request: verb, API group, resource (with subresource), where."""

    verb: str
    group: str
    resource: str
    namespace: str | None
    name: str | None


def resource_request(method: str, path: str, query: Mapping[str, str]) -> ResourceRequest | None:
    """The API server's reading of a URL; None for a path that names no resource (discovery)."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:  # `/namespaces/NAME` alone is the namespace itself
        namespace, rest = rest[1], rest[2:]
    plural, name, subresource = (*rest, None, None)[:3]
    return ResourceRequest(
        _verb(method, name, query),
        group,
        f"{plural}/{subresource}" if subresource else plural,
        namespace,
        name,
    )


def _verb(method: str, name: str | None, query: Mapping[str, str]) -> str:
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if name else "list"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return _HTTP_VERBS[method]


@attrs.define(kw_only=True)
class RbacEmulator(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator that serves only what `role_rules` (in `namespace`) and
    `cluster_rules` (anywhere) allow; `requested` times every request, `refused` lists the 403s."""

    namespace: str
    role_rules: tuple[Rule, ...] = ()
    cluster_rules: tuple[Rule, ...] = ()
    requested: list[tuple[float, str]] = attrs.field(factory=list)
    refused: list[str] = attrs.field(factory=list)

    def allowed(self, request: ResourceRequest | None) -> bool:
        if request is None:
            return True
        granted: Iterable[Rule] = self.cluster_rules
        if request.namespace == self.namespace:
            granted = (*self.role_rules, *self.cluster_rules)
        return any(
            rule.allows(request.group, request.resource, request.verb, request.name) for rule in granted
        )

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # Before kmock parses the URL: it cannot parse some (`/api/v1/namespaces` gives a 500).
        what = f"{raw_request.method} {raw_request.path_qs}"
        self.requested.append((time.monotonic(), what))
        if self.allowed(resource_request(raw_request.method, raw_request.path, raw_request.query)):
            return await super().__call__(raw_request)
        self.refused.append(what)
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "Forbidden",
            "code": 403,
        }
        return aiohttp.web.json_response({**status, "message": f"RBAC: {what}"}, status=403)
