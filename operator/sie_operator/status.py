"""Status helpers shared by the handlers: Kubernetes-style conditions and timestamps.

kopf does not write conditions; these keep them as `kubectl wait --for=condition=Ready` expects:
one entry per type, `lastTransitionTime` moving only when `status` changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def now_iso(*, precise: bool = False) -> str:
    """RFC 3339 in UTC; to the second as Kubernetes writes its own times, or to the microsecond."""
    now = datetime.now(UTC)
    return now.isoformat().replace("+00:00", "Z") if precise else now.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""


def with_conditions(
    existing: Iterable[Mapping[str, Any]] | None,
    updates: Iterable[Condition],
    *,
    generation: int | None = None,
) -> list[dict[str, Any]]:
    """The conditions list with `updates` applied; others are kept as they were."""
    conditions = {str(entry["type"]): dict(entry) for entry in existing or ()}
    stamp = now_iso()
    for update in updates:
        status = "True" if update.status else "False"
        previous = conditions.get(update.type, {})
        entry: dict[str, Any] = {
            "type": update.type,
            "status": status,
            "reason": update.reason,
            "message": update.message,
            "lastTransitionTime": (
                previous["lastTransitionTime"]
                if previous.get("status") == status and "lastTransitionTime" in previous
                else stamp
            ),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        conditions[update.type] = entry
    return list(conditions.values())


def condition_is_true(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> bool:
    return any(entry.get("type") == type_ and entry.get("status") == "True" for entry in conditions or ())
