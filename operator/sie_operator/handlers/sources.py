"""IngestionSource: the declaration in the cluster, the source (schedule, fetching) in the engine.

Every reconcile is one idempotent `PUT /v1/sources/{name}` with the whole spec; a finalizer removes
the source when the resource is deleted. A timer copies the engine's polling status onto the
resource and puts the source back if someone removed it behind the operator's back. The annotation
`sie.example.com/sync-requested-at` (any new value) asks for a poll now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from sie.core.config import settings as config
from sie.core.errors import ServiceUnavailable, SieError
from sie.core.logging import get_logger
from sie_operator import GROUP, VERSION
from sie_operator.engine import EngineRejected
from sie_operator.handlers.common import LEGACY_KOPF_ANNOTATIONS, engine_of, kopf_error, kopf_errors, kube_of
from sie_operator.kube import ObjectNotFound
from sie_operator.status import Condition, parse_time, with_conditions

log = get_logger(__name__)

PLURAL = "ingestionsources"
METRIC_RESOURCE = "ingestionsource"
SYNC_ANNOTATION = f"{GROUP}/sync-requested-at"
# Polls failed in a row before the resource reports Stalled.
STALLED_AFTER_FAILURES = 3
# How long deleting the resource waits for the engine before letting go (the source then stays).
DELETE_TIMEOUT_SECONDS = 600

# spec field -> API field, for the fields copied as they are.
_SPEC_FIELDS = {
    "type": "type",
    "url": "url",
    "urls": "urls",
    "interval": "interval",
    "priority": "priority",
    "tenant": "tenant",
    "suspend": "suspend",
    "ocrStrategy": "ocr_strategy",
    "includePatterns": "include_patterns",
    "excludePatterns": "exclude_patterns",
}


def engine_name(name: str, spec: Mapping[str, Any]) -> str:
    """The source's name in the engine: `spec.sourceName`, else the resource's name."""
    return str(spec.get("sourceName") or name)


async def source_body(spec: Mapping[str, Any], namespace: str, memo: kopf.Memo) -> dict[str, Any]:
    """The `PUT /v1/sources/{name}` body: the whole spec, with the auth header read from its Secret."""
    body = {api: spec[field] for field, api in _SPEC_FIELDS.items() if field in spec}
    auth = spec.get("authHeader")
    if auth:
        reference = auth["secretKeyRef"]
        body["auth_header_name"] = auth.get("name", "Authorization")
        body["auth_header"] = await kube_of(memo).secret_value(namespace, reference["name"], reference["key"])
    return body


def _time(value: str | None) -> str | None:
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def observed_status(source: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the engine reports about its polling, in the resource's status fields."""
    polling = source["status"]
    failures = int(polling["consecutive_failures"])
    stalled = failures >= STALLED_AFTER_FAILURES
    suspended = bool(spec.get("suspend"))
    if suspended:
        ready = Condition("Ready", False, "Suspended", "spec.suspend is true: the engine does not poll it")
    elif stalled:
        ready = Condition("Ready", False, "PollFailing", polling["last_error"] or "")
    else:
        ready = Condition("Ready", True, "Polling", f"polled every {source['interval']}")
    return {
        "sourceName": source["name"],
        "tenant": source["tenant"],
        "lastSyncTime": _time(polling["last_success_at"]),
        "lastAttemptTime": _time(polling["last_attempt_at"]),
        "nextSyncTime": None if suspended else _time(polling["next_run_at"]),
        "itemsSeen": polling["items_seen"],
        "itemsIngested": polling["items_ingested"],
        "itemsSkipped": polling["items_skipped"],
        "itemsFailed": polling["items_failed"],
        "consecutiveFailures": failures,
        "lastError": polling["last_error"],
        "_conditions": [
            ready,
            Condition(
                "Stalled",
                stalled,
                "PollFailing" if stalled else "Polling",
                f"{failures} polls failed in a row: {polling['last_error']}" if stalled else "",
            ),
        ],
    }


def _failure_reason(exc: SieError) -> str:
    if isinstance(exc, ObjectNotFound):
        return "SecretNotFound"
    if isinstance(exc, ServiceUnavailable):
        return "EngineUnavailable"
    return "Rejected"


def _write(
    patch: kopf.Patch, status: Mapping[str, Any], fields: dict[str, Any], conditions: list[Condition]
) -> None:
    extra = fields.pop("_conditions", [])
    patch.status.update(fields)
    patch.status["conditions"] = with_conditions(status.get("conditions"), [*conditions, *extra])


async def _apply(
    spec: Mapping[str, Any],
    name: str,
    namespace: str,
    generation: int,
    status: Mapping[str, Any],
    memo: kopf.Memo,
    patch: kopf.Patch,
) -> dict[str, Any]:
    """PUT the spec; on failure say why in the conditions, then let kopf retry (or not)."""
    try:
        body = await source_body(spec, namespace, memo)
        source = await engine_of(memo).put_source(engine_name(name, spec), body)
    except SieError as exc:
        reason = _failure_reason(exc)
        rejected = isinstance(exc, EngineRejected)
        patch.status["conditions"] = with_conditions(
            status.get("conditions"),
            [
                Condition("Synced", False, reason, str(exc)),
                Condition("Ready", False, reason, str(exc)),
                Condition(
                    "Stalled", rejected, reason if rejected else "Retrying", str(exc) if rejected else ""
                ),
            ],
        )
        log.warning("source_apply_failed", resource=f"{namespace}/{name}", reason=reason, error=str(exc))
        raise kopf_error(exc, METRIC_RESOURCE) from exc
    patch.status["observedGeneration"] = generation
    _write(
        patch,
        status,
        observed_status(source, spec),
        [Condition("Synced", True, "Applied", f"source '{source['name']}' of tenant '{source['tenant']}'")],
    )
    log.info("source_applied", resource=f"{namespace}/{name}", source=source["name"], tenant=source["tenant"])
    return {"id": source["id"], "name": source["name"], "tenant": source["tenant"]}


@kopf.on.resume(GROUP, VERSION, PLURAL, id="source")
@kopf.on.create(GROUP, VERSION, PLURAL, id="source")
@kopf.on.update(GROUP, VERSION, PLURAL, id="source", field="spec")
async def apply_source(
    spec: kopf.Spec,
    name: str,
    namespace: str,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: kopf.Memo,
    patch: kopf.Patch,
    **_: Any,
) -> dict[str, Any]:
    """Create or replace the engine's source; the result lands in `status.source`."""
    for key in LEGACY_KOPF_ANNOTATIONS:
        if key in meta.get("annotations", {}):
            patch.metadata.annotations[key] = None  # kopf then sees the sync annotation again
    return await _apply(spec, name, namespace, int(meta.get("generation", 0)), status, memo, patch)


@kopf.on.delete(GROUP, VERSION, PLURAL, timeout=DELETE_TIMEOUT_SECONDS)
async def delete_source(spec: kopf.Spec, name: str, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    with kopf_errors(METRIC_RESOURCE):
        removed = await engine_of(memo).delete_source(engine_name(name, spec), spec["tenant"])
    log.info("source_deleted", resource=f"{namespace}/{name}", existed=removed)


@kopf.timer(GROUP, VERSION, PLURAL, interval=config.operator_source_refresh_seconds, idle=5)
async def refresh_source_status(
    spec: kopf.Spec,
    name: str,
    namespace: str,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: kopf.Memo,
    patch: kopf.Patch,
    **_: Any,
) -> None:
    """Copy the engine's polling status; re-create the source if it vanished from the engine."""
    generation = int(meta.get("generation", 0))
    if status.get("observedGeneration") != generation:
        return  # the create/update handler owns this generation until it has applied it
    with kopf_errors(METRIC_RESOURCE):
        source = await engine_of(memo).get_source(engine_name(name, spec), spec["tenant"])
    if source is None:
        log.warning("source_missing_in_engine", resource=f"{namespace}/{name}")
        await _apply(spec, name, namespace, generation, status, memo, patch)
        return
    _write(patch, status, observed_status(source, spec), [])


@kopf.on.field(GROUP, VERSION, PLURAL, field=("metadata", "annotations", SYNC_ANNOTATION))
async def request_sync(
    new: str | None,
    spec: kopf.Spec,
    name: str,
    namespace: str,
    body: kopf.Body,
    status: kopf.Status,
    memo: kopf.Memo,
    patch: kopf.Patch,
    **_: Any,
) -> None:
    """A new value of the annotation asks the engine to poll the source now, once per value."""
    if not new or new == status.get("lastSyncRequest"):
        return
    try:
        with kopf_errors(METRIC_RESOURCE):
            source = await engine_of(memo).sync_source(engine_name(name, spec), spec["tenant"])
    except kopf.PermanentError as exc:  # e.g. 409 for a suspended source: nothing to retry
        kopf.warn(body, reason="SyncRefused", message=str(exc))
        patch.status["lastSyncRequest"] = new
        return
    patch.status["lastSyncRequest"] = new
    _write(patch, status, observed_status(source, spec), [])
    kopf.info(body, reason="SyncRequested", message=f"the engine polls '{source['name']}' now")
    log.info("source_sync_requested", resource=f"{namespace}/{name}", requested_at=new)
