"""The replay pacer: the declared rate on average, no burst after a pause, no limit when none is set."""

from __future__ import annotations

import pytest
from sie_operator.pacing import UNTHROTTLED_CHUNK, Pacer


def simulate(pacer: Pacer, jobs: int) -> float:
    """Send `jobs` as the replay loop does, on a simulated clock; returns when the last request went."""
    now = 0.0
    sent = 0
    while sent < jobs:
        chunk = min(pacer.chunk, jobs - sent)
        now += pacer.wait_seconds(chunk, now)
        pacer.spend(chunk, now)
        sent += chunk
    return now


@pytest.mark.parametrize(("rate", "jobs"), [(50, 200), (7, 70), (1000, 10_000), (3, 3)])
def test_n_jobs_take_n_over_rate_seconds(rate: int, jobs: int) -> None:
    assert simulate(Pacer(rate, 0.0), jobs) == pytest.approx(jobs / rate, rel=0.01)


def test_requests_carry_a_tenth_of_a_second_of_jobs() -> None:
    assert Pacer(50, 0).chunk == 5
    assert Pacer(1, 0).chunk == 1
    assert Pacer(100_000, 0).chunk == UNTHROTTLED_CHUNK


def test_a_pause_never_turns_into_a_burst() -> None:
    pacer = Pacer(10, 0.0)
    # An hour without sending: at most one second's worth may go at once.
    assert pacer.wait_seconds(10, 3600.0) == 0
    pacer.spend(10, 3600.0)
    assert pacer.wait_seconds(1, 3600.0) == pytest.approx(0.1)


def test_slow_answers_make_requests_larger_so_the_rate_holds() -> None:
    pacer = Pacer(100, 0.0)
    assert pacer.chunk == 10
    pacer.record_latency(0.4)  # each request takes 0.4 s: 10 jobs each would cap the rate at 25/s
    assert pacer.chunk == 60
    now, sent = 0.0, 0
    while sent < 1000:  # on a simulated clock where every request takes 0.4 s
        chunk = pacer.chunk
        now += pacer.wait_seconds(chunk, now)
        pacer.spend(chunk, now)
        now += 0.4
        pacer.record_latency(0.4)
        sent += chunk
    assert sent / now == pytest.approx(100, rel=0.1)


def test_no_rate_means_no_wait_and_large_requests() -> None:
    pacer = Pacer(None, 0.0)
    assert pacer.chunk == UNTHROTTLED_CHUNK
    assert pacer.wait_seconds(UNTHROTTLED_CHUNK, 0.0) == 0
