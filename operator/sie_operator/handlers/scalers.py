"""WorkerScaler: size a worker Deployment to its queues' true backlog, through its `scale` subresource.

Each poll reads the backlog from Redis (every priority list plus the unacknowledged messages, as
`sie.core.engine.backlog` counts it), the dead-letter queue's length and the Deployment's replicas; the
pure `decide` says what the size should be; a change is one patch of `deployments/<name>/scale`.
The decision history lives in the resource's kopf memo: after a restart the stabilization windows
start over, which only delays a scale-down (`decide` counts the current size until a window is covered).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import kopf
import redis

from sie.core import metrics
from sie.core.engine.backlog import dead_letter_length, queue_backlog
from sie.core.errors import ServiceUnavailable, SieError
from sie.core.logging import get_logger, timed
from sie_operator import GROUP, VERSION
from sie_operator.handlers.common import kopf_error, kube_of
from sie_operator.kube import ObjectNotFound
from sie_operator.scaling import Decision, Observed, Reason, ScalerSpec, decide
from sie_operator.status import Condition, condition_is_true, now_iso, with_conditions

log = get_logger(__name__)

PLURAL = "workerscalers"
METRIC_RESOURCE = "workerscaler"
# The timer's beat; each scaler polls at its own `pollIntervalSeconds`, on the first beat due.
TICK_SECONDS = 0.5
COMPONENT_LABEL = "app.kubernetes.io/component"


def read_queues(client: redis.Redis, queues: list[str]) -> tuple[int, int, int]:
    """(backlog, busy, dead letters): all messages of the queues, those taken by workers, the DLQ."""
    backlogs = queue_backlog(client, queues)
    return (
        sum(backlog.total for backlog in backlogs.values()),
        sum(backlog.reserved for backlog in backlogs.values()),
        dead_letter_length(client),
    )


async def observe(memo: kopf.Memo, namespace: str, target: str, queues: list[str]) -> Observed:
    """What this poll sees; queues that cannot be read leave the backlog unknown, not zero."""
    replicas = await kube_of(memo).deployment_replicas(namespace, target)
    try:
        backlog, busy, dead_letters = await asyncio.to_thread(read_queues, memo.redis, queues)
    except ServiceUnavailable as exc:
        log.warning("scaler_metrics_unavailable", deployment=f"{namespace}/{target}", error=str(exc))
        return Observed(replicas=replicas, backlog=None)
    return Observed(replicas=replicas, backlog=backlog, busy=busy, dead_letters=dead_letters)


def scaler_status(
    status: Mapping[str, Any], observed: Observed, decision: Decision, generation: int
) -> dict[str, Any]:
    growth = decision.dead_letter_growth_per_minute
    return {
        "observedGeneration": generation,
        "backlog": observed.backlog,
        "busy": observed.busy,
        "deadLetters": observed.dead_letters,
        "deadLetterGrowthPerMinute": None if growth is None else round(growth, 1),
        "currentReplicas": observed.replicas,
        "desiredReplicas": decision.replicas,
        "recommendedReplicas": decision.recommendation,
        "lastDecision": {"reason": str(decision.reason), "message": decision.message, "time": now_iso()},
        "conditions": with_conditions(
            status.get("conditions"),
            [
                Condition("Ready", True, "Polling", "the target and its queues answer"),
                Condition(
                    "MetricsAvailable",
                    observed.backlog is not None,
                    "QueuesRead" if observed.backlog is not None else "QueuesUnreadable",
                ),
                Condition(
                    "DeadLettersGrowing",
                    decision.dead_letters_growing,
                    "GrowthAboveLimit" if decision.dead_letters_growing else "GrowthBelowLimit",
                    decision.message if decision.reason is Reason.DEAD_LETTERS_GROWING else "",
                ),
            ],
            generation=generation,
        ),
    }


def _poll_due(memo: kopf.Memo, interval: float, now: float) -> bool:
    last = memo.get("last_poll")
    return last is None or now - last >= interval - TICK_SECONDS / 2


@kopf.timer(GROUP, VERSION, PLURAL, interval=TICK_SECONDS)
async def scale_workers(
    spec: kopf.Spec,
    name: str,
    namespace: str,
    meta: kopf.Meta,
    body: kopf.Body,
    status: kopf.Status,
    memo: kopf.Memo,
    patch: kopf.Patch,
    **_: Any,
) -> None:
    now = time.monotonic()
    if not _poll_due(memo, float(spec.get("pollIntervalSeconds", 15)), now):
        return
    memo.last_poll = now
    target = spec["targetRef"]["name"]
    scaler = meta.get("labels", {}).get(COMPONENT_LABEL, target)
    generation = int(meta.get("generation", 0))
    try:
        with timed() as timing:
            observed = await observe(memo, namespace, target, list(spec["queues"]))
            decision = decide(ScalerSpec.from_resource(spec), observed, memo.get("history", ()), now)
            memo.history = decision.history
            if decision.replicas != observed.replicas:
                await kube_of(memo).scale_deployment(namespace, target, decision.replicas)
    except SieError as exc:
        reason = "TargetNotFound" if isinstance(exc, ObjectNotFound) else "ScalingFailed"
        patch.status["conditions"] = with_conditions(
            status.get("conditions"), [Condition("Ready", False, reason, str(exc))], generation=generation
        )
        log.warning("scaler_poll_failed", scaler=f"{namespace}/{name}", reason=reason, error=str(exc))
        raise kopf_error(exc, METRIC_RESOURCE) from exc

    if decision.replicas != observed.replicas:
        direction = "up" if decision.replicas > observed.replicas else "down"
        metrics.OPERATOR_SCALE_DECISIONS.labels(scaler=scaler, direction=direction).inc()
        patch.status["lastScaleTime"] = now_iso()
        log.info(
            "workers_scaled",
            deployment=f"{namespace}/{target}",
            replicas_from=observed.replicas,
            replicas_to=decision.replicas,
            reason=str(decision.reason),
            backlog=observed.backlog,
            busy=observed.busy,
            **timing,
        )
    if decision.dead_letters_growing and not condition_is_true(
        status.get("conditions"), "DeadLettersGrowing"
    ):
        kopf.warn(
            body,
            reason="DeadLettersGrowing",
            message=f"dead letters grow {decision.dead_letter_growth_per_minute:.1f}/min; no scale-up for it",
        )
        log.warning("dead_letters_growing", scaler=f"{namespace}/{name}", message=decision.message)
    patch.status.update(scaler_status(status, observed, decision, generation))
