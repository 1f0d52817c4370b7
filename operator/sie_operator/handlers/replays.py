"""DeadLetterReplay: send dead jobs back through the engine, at the declared rate, once each.

The engine owns the dead-letter queue: the operator only calls `POST /v1/dead-letters/replay` with
the selector, in requests of about a tenth of a second's worth of jobs (`pacing.Pacer`), labelled
`operator:<namespace>/<name>/<uid>`. A replayed letter is never matched again, and the time window
closes when the replay starts (jobs that die again later are not replayed in a loop), so re-applying
the resource or restarting the operator never replays a job twice. After a restart the count of
replayed jobs is read back from the engine's audit trail, not trusted from memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from sie.core import metrics
from sie.core.errors import ServiceUnavailable
from sie.core.logging import get_logger
from sie_operator import GROUP, VERSION
from sie_operator.engine import EngineClient, EngineRejected
from sie_operator.handlers.common import engine_of
from sie_operator.pacing import Pacer
from sie_operator.status import Condition, now_iso, parse_time, with_conditions

log = get_logger(__name__)

PLURAL = "deadletterreplays"
METRIC_RESOURCE = "deadletterreplay"
FINISHED = frozenset({"Succeeded", "Failed"})
# One timer run replays for about this long, then its counts are written to the status.
SLICE_SECONDS = 1.0
TICK_SECONDS = 0.2
SAMPLE_ERROR_CHARS = 200


def replay_label(namespace: str, name: str, uid: str) -> str:
    return f"operator:{namespace}/{name}/{uid}"


def replay_request(spec: Mapping[str, Any], started_at: str) -> dict[str, Any]:
    """The API's selector fields; the window never reaches past the replay's start."""
    selector = spec.get("selector", {})
    until = min(parse_time(selector["until"]), parse_time(started_at)) if "until" in selector else None
    request: dict[str, Any] = {
        "queue": selector.get("queue"),
        "task": selector.get("task"),
        "error_contains": selector.get("errorContains"),
        "source": selector.get("source"),
        "since": selector.get("since"),
        "until": (until or parse_time(started_at)).isoformat(),
    }
    if "tenant" in selector:
        request["tenant"] = selector["tenant"]
    else:
        request["all_tenants"] = True
    return {key: value for key, value in request.items() if value is not None}


def _sample(letters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "jobId": letter["job_id"],
            "tenant": letter["tenant"],
            "queue": letter["queue"],
            "source": letter["source"],
            "error": (letter["error"] or "")[:SAMPLE_ERROR_CHARS],
            "createdAt": letter["created_at"],
        }
        for letter in letters
    ]


def _finish(patch: kopf.Patch, status: Mapping[str, Any], phase: str, message: str) -> None:
    patch.status["phase"] = phase
    patch.status["completedAt"] = now_iso(precise=True)
    patch.status["message"] = message
    patch.status["conditions"] = with_conditions(
        status.get("conditions"), [Condition("Complete", phase == "Succeeded", phase, message)]
    )


def _unfinished(status: kopf.Status, spec: kopf.Spec, **_: Any) -> bool:
    phase = status.get("phase")
    return phase not in FINISHED and not (phase == "Cancelled" and spec.get("suspend"))


async def _start(
    engine: EngineClient, spec: Mapping[str, Any], status: Mapping[str, Any], patch: kopf.Patch, label: str
) -> bool:
    """Count what matches (the dry run's answer); a dry run ends here. False when it has finished."""
    # To the microsecond: it closes the selector's time window, and letters die many per second.
    started_at = now_iso(precise=True)
    max_jobs = int(spec.get("maxJobs", 1000))
    request = replay_request(spec, started_at)
    answer = await engine.replay({**request, "max_jobs": max_jobs, "dry_run": True, "replayed_by": label})
    patch.status.update({"startedAt": started_at, "matched": answer["matched"], "replayed": 0, "failed": 0})
    if spec.get("dryRun"):
        metrics.OPERATOR_REPLAYS.labels(outcome="dry_run").inc(answer["matched"])
        patch.status["sample"] = _sample(answer["sample"])
        _finish(patch, status, "Succeeded", f"dry run: {answer['matched']} jobs match; nothing was replayed")
        return False
    patch.status["phase"] = "Running"
    patch.status["conditions"] = with_conditions(
        status.get("conditions"), [Condition("Complete", False, "Running", f"{answer['matched']} jobs match")]
    )
    return True


@dataclass(frozen=True)
class SliceResult:
    done: bool  # nothing left to replay
    rejected: EngineRejected | None = None
    rejected_jobs: int = 0


async def _replay_slice(
    engine: EngineClient, spec: Mapping[str, Any], memo: kopf.Memo, request: dict[str, Any], label: str
) -> SliceResult:
    """Paced requests for about one slice; `memo.replayed` counts what the engine sent back."""
    pacer: Pacer = memo.pacer
    max_jobs = int(spec.get("maxJobs", 1000))
    slice_end = time.monotonic() + SLICE_SECONDS
    while time.monotonic() < slice_end:
        remaining = max_jobs - memo.replayed
        if remaining <= 0:
            return SliceResult(done=True)
        jobs = min(remaining, pacer.chunk)
        await asyncio.sleep(pacer.wait_seconds(jobs, time.monotonic()))
        sent_at = time.monotonic()
        pacer.spend(jobs, sent_at)
        try:
            answer = await engine.replay({**request, "max_jobs": jobs, "replayed_by": label})
        except EngineRejected as exc:
            return SliceResult(done=True, rejected=exc, rejected_jobs=jobs)
        pacer.record_latency(time.monotonic() - sent_at)
        memo.replayed += answer["replayed"]
        metrics.OPERATOR_REPLAYS.labels(outcome="replayed").inc(answer["replayed"])
        if answer["replayed"] < jobs:  # no more letters match
            return SliceResult(done=True)
    return SliceResult(done=False)


@kopf.timer(GROUP, VERSION, PLURAL, interval=TICK_SECONDS, when=_unfinished)
async def replay_dead_letters(
    spec: kopf.Spec,
    name: str,
    namespace: str,
    uid: str,
    body: kopf.Body,
    status: kopf.Status,
    memo: kopf.Memo,
    patch: kopf.Patch,
    **_: Any,
) -> None:
    """One slice of a replay: about a second of paced requests, then the counts go to the status."""
    engine = engine_of(memo)
    label = replay_label(namespace, name, uid)
    if spec.get("suspend"):
        patch.status["phase"] = "Cancelled"
        patch.status["message"] = "suspended: jobs not yet replayed stay in the dead-letter queue"
        memo.pop("pacer", None)
        return
    try:
        if not status.get("startedAt") and not await _start(engine, spec, status, patch, label):
            return
        started_at = patch.status.get("startedAt") or status["startedAt"]
        if "pacer" not in memo:  # first slice in this process: the engine's audit trail has the count
            memo.pacer = Pacer(spec.get("ratePerSecond"), time.monotonic())
            memo.replayed = await engine.replayed_count(label, spec.get("selector", {}).get("tenant"))
        memo.pacer.rate = spec.get("ratePerSecond")  # a changed rate applies at once
        result = await _replay_slice(engine, spec, memo, replay_request(spec, started_at), label)
    except ServiceUnavailable as exc:  # tried again on the next slice; the counts are safe in the engine
        patch.status["phase"] = status.get("phase") or "Pending"
        patch.status["message"] = f"waiting for the engine: {exc}"
        log.warning("replay_engine_unavailable", replay=f"{namespace}/{name}", error=str(exc))
        return
    except EngineRejected as exc:  # the selector or the key was refused before any job was sent
        result = SliceResult(done=True, rejected=exc)
    patch.status["phase"] = "Running"
    patch.status["replayed"] = memo.get("replayed", 0)
    patch.status["message"] = None
    if result.rejected is not None:
        metrics.OPERATOR_RECONCILE_ERRORS.labels(resource=METRIC_RESOURCE).inc()
        metrics.OPERATOR_REPLAYS.labels(outcome="failed").inc(result.rejected_jobs)
        patch.status["failed"] = int(status.get("failed", 0)) + result.rejected_jobs
        _finish(patch, status, "Failed", str(result.rejected))
        kopf.warn(body, reason="ReplayFailed", message=str(result.rejected))
        log.warning("replay_failed", replay=f"{namespace}/{name}", error=str(result.rejected))
    elif result.done:
        message = f"{memo.replayed} jobs replayed"
        _finish(patch, status, "Succeeded", message)
        kopf.info(body, reason="ReplaySucceeded", message=message)
        log.info("replay_succeeded", replay=f"{namespace}/{name}", replayed=memo.replayed, label=label)
