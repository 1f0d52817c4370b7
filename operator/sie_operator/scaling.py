"""WorkerScaler decisions: a pure function of (spec, observed metrics, history, now), nothing else.

The rules, in order (docs/operator.md has the long form):

1. Metrics unavailable (Redis did not answer): hold the current size, or go to `fallbackReplicas`.
2. Recommendation: `ceil(backlog / backlogPerReplica)`; a pool at zero stays there until the backlog
   exceeds `activationBacklog`. Never below the busy workers (messages taken and not yet
   acknowledged, at most one per current replica), then clamped to `[minReplicas, maxReplicas]`.
3. Stabilization, as Kubernetes' HPA does it: scale up to the lowest recommendation of the scale-up
   window, down to the highest of the scale-down window. Until the history covers a window (after a
   start or restart) the current size counts as a recommendation too, so a restart never scales down.
4. At most `maxStep` replicas per decision, in either direction.
5. DLQ guard: while the dead-letter queue grows faster than `maxGrowthPerMinute`, never scale up;
   failures are not fixed by more workers. Scaling down still happens.
A size outside `[minReplicas, maxReplicas]` (someone ran `kubectl scale`) goes back within at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

# The span over which the dead-letter queue's growth is measured.
DEAD_LETTER_GROWTH_SPAN_SECONDS = 60.0
# Growth measured over less time than this is noise (two polls a moment apart), not a rate.
MIN_GROWTH_ELAPSED_SECONDS = 1.0
DEFAULT_MAX_DEAD_LETTER_GROWTH_PER_MINUTE = 20.0


@dataclass(frozen=True)
class StepPolicy:
    """How one direction of scaling is damped."""

    stabilization_window_seconds: float
    max_step: int


@dataclass(frozen=True)
class ScalerSpec:
    """A WorkerScaler's `spec`, in the units `decide` works in."""

    min_replicas: int
    max_replicas: int
    backlog_per_replica: int
    activation_backlog: int = 0
    scale_up: StepPolicy = field(default_factory=lambda: StepPolicy(0, 4))
    scale_down: StepPolicy = field(default_factory=lambda: StepPolicy(300, 2))
    metrics_unavailable_policy: Literal["hold", "fallback"] = "hold"
    fallback_replicas: int = 1
    # None turns the guard off.
    max_dead_letter_growth_per_minute: float | None = DEFAULT_MAX_DEAD_LETTER_GROWTH_PER_MINUTE

    @classmethod
    def from_resource(cls, spec: Mapping[str, Any]) -> ScalerSpec:
        """Read the custom resource's camelCase spec; absent optional fields take the CRD's defaults."""
        up = spec.get("scaleUp", {})
        down = spec.get("scaleDown", {})
        unavailable = spec.get("metricsUnavailable", {})
        guard = spec.get("deadLetterGuard", {})
        return cls(
            min_replicas=int(spec["minReplicas"]),
            max_replicas=int(spec["maxReplicas"]),
            backlog_per_replica=int(spec["backlogPerReplica"]),
            activation_backlog=int(spec.get("activationBacklog", 0)),
            scale_up=StepPolicy(float(up.get("stabilizationWindowSeconds", 0)), int(up.get("maxStep", 4))),
            scale_down=StepPolicy(
                float(down.get("stabilizationWindowSeconds", 300)), int(down.get("maxStep", 2))
            ),
            metrics_unavailable_policy=unavailable.get("policy", "hold"),
            fallback_replicas=int(unavailable.get("fallbackReplicas", 1)),
            max_dead_letter_growth_per_minute=(
                None
                if guard.get("enabled", True) is False
                else float(guard.get("maxGrowthPerMinute", DEFAULT_MAX_DEAD_LETTER_GROWTH_PER_MINUTE))
            ),
        )

    def clamp(self, replicas: int) -> int:
        return max(self.min_replicas, min(self.max_replicas, replicas))


@dataclass(frozen=True)
class Observed:
    """What the operator read this poll."""

    replicas: int  # the Deployment's spec.replicas
    backlog: int | None  # None: the queues could not be read
    busy: int = 0  # messages taken by a worker and not yet acknowledged
    dead_letters: int | None = None


@dataclass(frozen=True)
class Sample:
    """One earlier poll, as the history remembers it."""

    at: float
    recommendation: int
    dead_letters: int | None


class Reason(StrEnum):
    SCALE_UP = "ScaleUp"
    SCALE_DOWN = "ScaleDown"
    STEADY = "Steady"
    STABILIZING = "Stabilizing"
    OUT_OF_BOUNDS = "OutOfBounds"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    DEAD_LETTERS_GROWING = "DeadLettersGrowing"


@dataclass(frozen=True)
class Decision:
    replicas: int  # what the Deployment should have now
    recommendation: int  # what the load alone asks for, within bounds, before damping
    reason: Reason
    message: str
    dead_letters_growing: bool
    dead_letter_growth_per_minute: float | None
    history: tuple[Sample, ...]  # pass it to the next call


def required_replicas(spec: ScalerSpec, backlog: int, current: int) -> int:
    """Replicas the backlog asks for, before bounds; a pool at zero wakes only above the activation."""
    if backlog <= 0 or (current == 0 and backlog <= spec.activation_backlog):
        return 0
    return math.ceil(backlog / spec.backlog_per_replica)


def dead_letter_growth_per_minute(
    history: tuple[Sample, ...], dead_letters: int | None, now: float
) -> float | None:
    """Growth of the dead-letter queue over the last minute (or since the oldest sample in it)."""
    if dead_letters is None:
        return None
    known = [sample for sample in history if sample.dead_letters is not None and sample.at < now]
    if not known:
        return None
    in_span = [sample for sample in known if sample.at >= now - DEAD_LETTER_GROWTH_SPAN_SECONDS]
    reference = in_span[0] if in_span else known[-1]
    elapsed = now - reference.at
    if elapsed < MIN_GROWTH_ELAPSED_SECONDS:
        return None
    assert reference.dead_letters is not None  # filtered above
    return (dead_letters - reference.dead_letters) * 60.0 / elapsed


def _window(history: tuple[Sample, ...], now: float, seconds: float) -> tuple[list[int], bool]:
    """Recommendations inside the window, and whether the history reaches back over all of it."""
    values = [sample.recommendation for sample in history if sample.at >= now - seconds]
    covered = seconds <= 0 or (bool(history) and history[0].at <= now - seconds)
    return values, covered


def _prune(history: tuple[Sample, ...], now: float, spec: ScalerSpec) -> tuple[Sample, ...]:
    keep = max(
        spec.scale_up.stabilization_window_seconds,
        spec.scale_down.stabilization_window_seconds,
        DEAD_LETTER_GROWTH_SPAN_SECONDS,
    )
    horizon = now - keep
    older = [sample for sample in history if sample.at < horizon]
    recent = [sample for sample in history if sample.at >= horizon]
    # One sample from before the horizon proves that the longest window is covered.
    return (*older[-1:], *recent)


def decide(spec: ScalerSpec, observed: Observed, history: tuple[Sample, ...], now: float) -> Decision:
    """The replica count for this poll, why, and the history for the next one."""
    current = observed.replicas
    growth = dead_letter_growth_per_minute(history, observed.dead_letters, now)
    limit = spec.max_dead_letter_growth_per_minute
    growing = limit is not None and growth is not None and growth > limit

    if observed.backlog is None:
        if spec.metrics_unavailable_policy == "fallback":
            target = spec.clamp(spec.fallback_replicas)
            message = f"queues unreadable; fallback to {target} replicas"
        else:
            target = spec.clamp(current)
            message = f"queues unreadable; holding {target} replicas"
        return Decision(
            replicas=target,
            recommendation=target,
            reason=Reason.METRICS_UNAVAILABLE,
            message=message,
            dead_letters_growing=growing,
            dead_letter_growth_per_minute=growth,
            history=_prune(history, now, spec),
        )

    # Never below the busy workers: each holds at least one unacknowledged message.
    busy_floor = min(current, observed.busy)
    recommendation = spec.clamp(max(required_replicas(spec, observed.backlog, current), busy_floor))
    history = _prune((*history, Sample(now, recommendation, observed.dead_letters)), now, spec)
    load = f"backlog {observed.backlog}, busy {observed.busy}, recommendation {recommendation}"

    def decision(replicas: int, reason: Reason, message: str) -> Decision:
        return Decision(
            replicas=replicas,
            recommendation=recommendation,
            reason=reason,
            message=message,
            dead_letters_growing=growing,
            dead_letter_growth_per_minute=growth,
            history=history,
        )

    if current != spec.clamp(current):
        target = spec.clamp(current)
        return decision(target, Reason.OUT_OF_BOUNDS, f"{current} replicas is outside the bounds; {load}")

    up_values, up_covered = _window(history, now, spec.scale_up.stabilization_window_seconds)
    down_values, down_covered = _window(history, now, spec.scale_down.stabilization_window_seconds)
    stable_up = min([*up_values, *([] if up_covered else [current])])
    stable_down = max([*down_values, *([] if down_covered else [current])])

    if stable_up > current:
        if growing:
            return decision(
                current,
                Reason.DEAD_LETTERS_GROWING,
                f"not scaling up: dead letters grow {growth:.1f}/min (limit {limit:g}/min); {load}",
            )
        target = min(stable_up, current + spec.scale_up.max_step)
        return decision(target, Reason.SCALE_UP, f"{current} -> {target}; {load}")
    if stable_down < current:
        target = max(stable_down, current - spec.scale_down.max_step)
        return decision(target, Reason.SCALE_DOWN, f"{current} -> {target}; {load}")
    if recommendation != current:
        return decision(
            current, Reason.STABILIZING, f"holding {current} within the stabilization window; {load}"
        )
    return decision(current, Reason.STEADY, f"{current} replicas fit; {load}")
