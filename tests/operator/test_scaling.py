"""`decide()`: the WorkerScaler's rules, one at a time, then as a sequence of polls over time."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sie_operator.scaling import (
    Decision,
    Observed,
    Reason,
    Sample,
    ScalerSpec,
    StepPolicy,
    dead_letter_growth_per_minute,
    decide,
    required_replicas,
)

SPEC = ScalerSpec(
    min_replicas=1,
    max_replicas=10,
    backlog_per_replica=50,
    scale_up=StepPolicy(stabilization_window_seconds=0, max_step=4),
    scale_down=StepPolicy(stabilization_window_seconds=60, max_step=2),
    max_dead_letter_growth_per_minute=20,
)


def run(spec: ScalerSpec, polls: list[tuple[float, Observed]]) -> list[Decision]:
    """Feed polls in order, carrying the history and applying each decision, as the operator does."""
    history: tuple[Sample, ...] = ()
    decisions = []
    replicas = polls[0][1].replicas
    for at, observed in polls:
        decision = decide(spec, replace(observed, replicas=replicas), history, at)
        history, replicas = decision.history, decision.replicas
        decisions.append(decision)
    return decisions


def steady(replicas: int, backlog: int, **observed: int) -> Observed:
    return Observed(replicas=replicas, backlog=backlog, **observed)


def test_backlog_sets_the_recommendation_in_replicas_per_backlog_share() -> None:
    assert required_replicas(SPEC, 0, 3) == 0
    assert required_replicas(SPEC, 1, 3) == 1
    assert required_replicas(SPEC, 50, 3) == 1
    assert required_replicas(SPEC, 51, 3) == 2
    assert required_replicas(SPEC, 500, 3) == 10


def test_scale_up_is_immediate_with_no_window_but_limited_to_max_step() -> None:
    decision = decide(SPEC, steady(1, 500), (), now=100)
    assert (decision.replicas, decision.recommendation, decision.reason) == (5, 10, Reason.SCALE_UP)
    again = decide(SPEC, steady(5, 500), decision.history, now=102)
    assert (again.replicas, again.reason) == (9, Reason.SCALE_UP)


def test_never_above_max_nor_below_min() -> None:
    assert decide(SPEC, steady(9, 100_000), (), now=0).replicas == 10
    assert decide(SPEC, steady(10, 100_000), (), now=0).reason is Reason.STEADY
    idle = run(SPEC, [(t, steady(1, 0)) for t in range(0, 200, 10)])
    assert {decision.replicas for decision in idle} == {1}


def test_size_outside_the_bounds_goes_back_within_at_once() -> None:
    above = decide(SPEC, steady(15, 0), (), now=0)
    assert (above.replicas, above.reason) == (10, Reason.OUT_OF_BOUNDS)
    below = decide(replace(SPEC, min_replicas=3), steady(1, 0), (), now=0)
    assert (below.replicas, below.reason) == (3, Reason.OUT_OF_BOUNDS)


def test_scale_down_waits_for_the_whole_window_of_lower_load() -> None:
    polls = [(0.0, steady(6, 300))] + [(float(t), steady(6, 0)) for t in range(10, 130, 10)]
    decisions = run(SPEC, polls)
    first_down = next(i for i, decision in enumerate(decisions) if decision.reason is Reason.SCALE_DOWN)
    # The busy poll at t=0 holds the size until it leaves the 60 s window.
    assert polls[first_down][0] > 60
    assert all(decision.reason is Reason.STABILIZING for decision in decisions[1:first_down])
    assert decisions[first_down].replicas == 4  # max_step 2 from 6
    assert decisions[-1].replicas == 1


def test_a_spike_inside_the_window_holds_the_size() -> None:
    polls = [(0.0, steady(4, 200)), (30.0, steady(4, 0)), (50.0, steady(4, 200)), (70.0, steady(4, 0))]
    assert [decision.replicas for decision in run(SPEC, polls)] == [4, 4, 4, 4]


def test_after_a_restart_nothing_scales_down_until_a_window_is_observed() -> None:
    # No history (a fresh operator process): the current size counts until 60 s of polls exist.
    decisions = run(SPEC, [(float(t), steady(8, 0)) for t in range(1000, 1080, 10)])
    assert [d.replicas for d in decisions[:6]] == [8] * 6
    assert (decisions[6].reason, decisions[6].replicas) == (Reason.SCALE_DOWN, 6)


def test_scale_up_window_requires_sustained_load() -> None:
    spec = replace(SPEC, scale_up=StepPolicy(stabilization_window_seconds=20, max_step=10))
    polls = [(0.0, steady(1, 0)), (10.0, steady(1, 500)), (20.0, steady(1, 500)), (30.0, steady(1, 500))]
    decisions = run(spec, polls)
    assert [d.replicas for d in decisions] == [1, 1, 1, 10]


def test_never_below_the_busy_workers() -> None:
    # Backlog gone, but 5 messages are running on workers: at most 5 replicas may hold them.
    polls = [(float(t), Observed(replicas=8, backlog=5, busy=5)) for t in range(0, 200, 10)]
    decisions = run(SPEC, polls)
    assert decisions[-1].replicas == 5
    assert min(decision.replicas for decision in decisions) == 5


def test_busy_count_above_replicas_only_keeps_the_current_size() -> None:
    decision = decide(SPEC, Observed(replicas=2, backlog=40, busy=40), (), now=0)
    assert decision.recommendation == 2


def test_pool_at_zero_wakes_only_above_the_activation_backlog() -> None:
    ocr = replace(SPEC, min_replicas=0, activation_backlog=5)
    assert decide(ocr, steady(0, 5), (), now=0).replicas == 0
    woken = decide(ocr, steady(0, 6), (), now=0)
    assert (woken.replicas, woken.reason) == (1, Reason.SCALE_UP)


def test_idle_pool_scales_to_zero_when_min_is_zero() -> None:
    ocr = replace(SPEC, min_replicas=0)
    decisions = run(ocr, [(float(t), steady(2, 0)) for t in range(0, 200, 10)])
    assert decisions[-1].replicas == 0


@pytest.mark.parametrize(("policy", "expected"), [("hold", 3), ("fallback", 6)])
def test_metrics_unavailable_holds_or_falls_back(policy: str, expected: int) -> None:
    spec = replace(SPEC, metrics_unavailable_policy=policy, fallback_replicas=6)
    decision = decide(spec, Observed(replicas=3, backlog=None), (), now=0)
    assert (decision.replicas, decision.reason) == (expected, Reason.METRICS_UNAVAILABLE)


def test_fallback_stays_within_bounds() -> None:
    spec = replace(SPEC, metrics_unavailable_policy="fallback", fallback_replicas=50)
    assert decide(spec, Observed(replicas=3, backlog=None), (), now=0).replicas == 10


def test_growing_dead_letter_queue_blocks_scale_up() -> None:
    polls = [(0.0, steady(2, 0, dead_letters=0)), (10.0, steady(2, 500, dead_letters=30))]
    decisions = run(SPEC, polls)
    assert decisions[-1].replicas == 2
    assert decisions[-1].reason is Reason.DEAD_LETTERS_GROWING
    assert decisions[-1].dead_letters_growing
    assert decisions[-1].dead_letter_growth_per_minute == pytest.approx(180)


def test_slowly_growing_dead_letter_queue_does_not_block() -> None:
    polls = [(0.0, steady(2, 0, dead_letters=0)), (60.0, steady(2, 500, dead_letters=10))]
    decision = run(SPEC, polls)[-1]
    assert (decision.replicas, decision.dead_letters_growing) == (6, False)


def test_growing_dead_letters_still_allow_scale_down() -> None:
    spec = replace(SPEC, scale_down=StepPolicy(stabilization_window_seconds=0, max_step=5))
    polls = [(0.0, steady(6, 0, dead_letters=0)), (5.0, steady(6, 0, dead_letters=100))]
    decision = run(spec, polls)[-1]
    assert decision.dead_letters_growing and decision.replicas == 1


def test_guard_off_scales_up_whatever_the_dead_letters() -> None:
    spec = replace(SPEC, max_dead_letter_growth_per_minute=None)
    polls = [(0.0, steady(2, 0, dead_letters=0)), (10.0, steady(2, 500, dead_letters=1000))]
    assert run(spec, polls)[-1].replicas == 6


def test_growth_is_measured_over_the_last_minute_only() -> None:
    history = (Sample(0, 1, 0), Sample(100, 1, 500), Sample(150, 1, 500))
    assert dead_letter_growth_per_minute(history, 500, now=160) == 0
    assert dead_letter_growth_per_minute(history, None, now=160) is None
    assert dead_letter_growth_per_minute((), 5, now=160) is None
    # Two polls a moment apart say nothing about a rate.
    assert dead_letter_growth_per_minute((Sample(159.5, 1, 0),), 50, now=160) is None


def test_history_keeps_only_what_a_window_needs() -> None:
    decisions = run(SPEC, [(float(t), steady(1, 0)) for t in range(0, 1000, 5)])
    assert len(decisions[-1].history) <= 60 / 5 + 2


def test_from_resource_reads_the_chart_spec_with_defaults() -> None:
    spec = ScalerSpec.from_resource(
        {
            "targetRef": {"name": "sie-ocr-worker"},
            "queues": ["ocr"],
            "minReplicas": 0,
            "maxReplicas": 4,
            "backlogPerReplica": 10,
            "scaleDown": {"stabilizationWindowSeconds": 600, "maxStep": 1},
            "metricsUnavailable": {"policy": "fallback", "fallbackReplicas": 1},
            "deadLetterGuard": {"maxGrowthPerMinute": 5},
        }
    )
    assert spec == ScalerSpec(
        min_replicas=0,
        max_replicas=4,
        backlog_per_replica=10,
        activation_backlog=0,
        scale_up=StepPolicy(0, 4),
        scale_down=StepPolicy(600, 1),
        metrics_unavailable_policy="fallback",
        fallback_replicas=1,
        max_dead_letter_growth_per_minute=5,
    )
    disabled = ScalerSpec.from_resource(
        {"minReplicas": 1, "maxReplicas": 2, "backlogPerReplica": 1, "deadLetterGuard": {"enabled": False}}
    )
    assert disabled.max_dead_letter_growth_per_minute is None


@given(
    replicas=st.integers(0, 30),
    backlog=st.one_of(st.none(), st.integers(0, 10_000)),
    busy=st.integers(0, 50),
    min_replicas=st.integers(0, 5),
    extra=st.integers(0, 20),
    history=st.lists(st.tuples(st.floats(0, 99), st.integers(0, 30), st.integers(0, 500)), max_size=15),
)
def test_invariants(
    replicas: int,
    backlog: int | None,
    busy: int,
    min_replicas: int,
    extra: int,
    history: list[tuple[float, int, int]],
) -> None:
    spec = replace(SPEC, min_replicas=min_replicas, max_replicas=min_replicas + extra + 1)
    samples = tuple(Sample(at, rec, dead) for at, rec, dead in sorted(history))
    decision = decide(spec, Observed(replicas, backlog, busy, dead_letters=0), samples, now=100)
    assert spec.min_replicas <= decision.replicas <= spec.max_replicas
    if spec.min_replicas <= replicas <= spec.max_replicas:
        # Within bounds it never moves more than a step, and never below the busy workers.
        assert replicas - spec.scale_down.max_step <= decision.replicas <= replicas + spec.scale_up.max_step
        if backlog is not None:
            assert decision.replicas >= min(replicas, busy, spec.max_replicas)
    if decision.dead_letters_growing:
        assert decision.replicas <= max(replicas, spec.min_replicas)
