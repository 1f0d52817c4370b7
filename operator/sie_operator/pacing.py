"""Paces a DeadLetterReplay at its declared `ratePerSecond`: a token bucket that starts empty.

Starting empty makes N jobs take N / rate seconds from the first request, so the rate a replay
achieves is the one declared. The bucket holds at most one second's worth (or one request's), so a
pause (the operator busy, a restart) never turns into a burst. A request carries a tenth of a
second's worth of jobs, or more when the engine answers slowly: requests are sent one after the
other, so each must carry what the rate asks for during its own round trip.
"""

from __future__ import annotations

import math

# Jobs per request when no rate is declared: large enough for well over 500 jobs/s.
UNTHROTTLED_CHUNK = 1000
REQUESTS_PER_SECOND = 10
# Room over the measured round trip, so a slightly slower answer does not cost rate.
LATENCY_HEADROOM = 1.5
LATENCY_SMOOTHING = 0.3


class Pacer:
    def __init__(self, rate: float | None, now: float) -> None:
        self.rate = rate
        self._tokens = 0.0
        self._at = now
        self._latency = 0.0

    @property
    def chunk(self) -> int:
        """Jobs to ask for in one request."""
        if self.rate is None:
            return UNTHROTTLED_CHUNK
        per_request = max(1.0 / REQUESTS_PER_SECOND, self._latency * LATENCY_HEADROOM)
        return max(1, min(UNTHROTTLED_CHUNK, math.ceil(round(self.rate * per_request, 6))))

    def record_latency(self, seconds: float) -> None:
        """One request's round trip; a moving average sizes the next requests."""
        self._latency = (
            seconds
            if not self._latency
            else (LATENCY_SMOOTHING * seconds + (1 - LATENCY_SMOOTHING) * self._latency)
        )

    def _refill(self, now: float) -> None:
        if self.rate is not None:
            capacity = max(float(self.chunk), self.rate)
            self._tokens = min(capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def wait_seconds(self, jobs: int, now: float) -> float:
        """How long until `jobs` may be sent (0 when they may go now)."""
        if self.rate is None:
            return 0.0
        self._refill(now)
        return max(0.0, (jobs - self._tokens) / self.rate)

    def spend(self, jobs: int, now: float) -> None:
        self._refill(now)
        if self.rate is not None:
            self._tokens -= jobs
