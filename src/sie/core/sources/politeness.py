"""How polls reach the network: robots.txt, per-host limits, conditional GET and credentials.

Every request SIE makes on a source's behalf (robots.txt, the listing documents, each new item)
goes through `PoliteFetcher.get`, which
- reads the origin's robots.txt (cached per origin for ROBOTS_CACHE_TTL_SECONDS; RFC 9309 rules,
  `sources.robots`) and refuses URLs it disallows for SIE's User-Agent,
- allows at most SOURCE_PER_HOST_CONCURRENCY requests in flight per origin, and spaces their starts
  by the origin's Crawl-delay (at least SOURCE_MIN_HOST_DELAY_SECONDS),
- fetches through `fetch_url`, so the SSRF guard, size caps and redirect checks all apply.
These limits hold within one scheduler process; docs/sources.md explains what that means with replicas.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from sie.core.config import settings
from sie.core.errors import (
    PermanentError,
    PollBudgetExhausted,
    PollInterrupted,
    RobotsDisallowed,
    RobotsUnavailable,
    TransientError,
)
from sie.core.fetch import FetchedContent, FetchPolicy, fetch_url
from sie.core.logging import get_logger
from sie.core.sources.base import origin_of
from sie.core.sources.robots import RobotsTxt

log = get_logger(__name__)

# Past this many origins, cache entries that have expired are dropped.
ROBOTS_CACHE_PRUNE_AT = 10_000
GATE_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class RobotsRules:
    robots_url: str
    # None when the site has no usable robots.txt (4xx): everything is allowed.
    robots: RobotsTxt | None
    fetched_at: float

    def allows(self, url: str) -> bool:
        return self.robots is None or self.robots.allows(url)

    def crawl_delay(self) -> float:
        return self.robots.crawl_delay() if self.robots is not None else 0.0


class HostGate:
    """At most `per_host` requests in flight per origin, with request starts spaced by a delay."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._changed = threading.Condition()
        self._in_flight: dict[str, int] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, origin: str, *, delay: float, deadline: float, stop: threading.Event) -> Iterator[None]:
        """Wait for a free slot and the origin's next start time; raise if the deadline or stop come first."""
        start_at = self._reserve(origin, delay=delay, deadline=deadline, stop=stop)
        try:
            if stop.wait(max(0.0, start_at - time.monotonic())):
                raise PollInterrupted("the scheduler is stopping")
            yield
        finally:
            self._release(origin)

    def _reserve(self, origin: str, *, delay: float, deadline: float, stop: threading.Event) -> float:
        with self._changed:
            while self._in_flight.get(origin, 0) >= self._per_host:
                if stop.is_set():
                    raise PollInterrupted("the scheduler is stopping")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PollBudgetExhausted(
                        f"waited for a free slot on {origin} until the poll's time ran out"
                    )
                self._changed.wait(min(remaining, GATE_POLL_SECONDS))
            now = time.monotonic()
            start_at = max(now, self._next_start.get(origin, now))
            if start_at > deadline:
                raise PollBudgetExhausted(f"the crawl delay of {origin} leaves no time in this poll")
            self._in_flight[origin] = self._in_flight.get(origin, 0) + 1
            self._next_start[origin] = start_at + delay
            return start_at

    def _release(self, origin: str) -> None:
        with self._changed:
            self._in_flight[origin] -= 1
            if not self._in_flight[origin]:
                del self._in_flight[origin]
                if self._next_start.get(origin, 0.0) <= time.monotonic():
                    self._next_start.pop(origin, None)
            self._changed.notify_all()


class PoliteFetcher:
    """One per scheduler process: the robots.txt cache and the host gate are shared by all its polls."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy.from_settings()
        self._gate = HostGate(settings.source_per_host_concurrency)
        self._min_delay = settings.source_min_host_delay_seconds
        self._robots_ttl = settings.robots_cache_ttl_seconds
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(
        self,
        url: str,
        *,
        deadline: float,
        stop: threading.Event,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchedContent:
        """GET `url` if robots.txt allows it, within the origin's limits and the poll's deadline."""
        origin = origin_of(url)
        rules = self.robots(origin, deadline=deadline, stop=stop)
        if not rules.allows(url):
            raise RobotsDisallowed(f"robots.txt at {rules.robots_url} disallows {url} for SIE")
        delay = max(self._min_delay, rules.crawl_delay())
        return self._gated_fetch(
            url, delay=delay, deadline=deadline, stop=stop, headers=headers, max_bytes=max_bytes
        )

    def robots(self, origin: str, *, deadline: float, stop: threading.Event) -> RobotsRules:
        """The origin's robots.txt rules, fetched at most once per TTL (one fetch even when polls race)."""
        with self._lock:
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        with origin_lock:
            cached = self._robots.get(origin)
            if cached is not None and time.monotonic() - cached.fetched_at < self._robots_ttl:
                return cached
            try:
                rules = self._read_robots(f"{origin}/robots.txt", deadline=deadline, stop=stop)
            except RobotsUnavailable as exc:
                if cached is None:
                    raise
                log.warning(
                    "robots_refresh_failed_using_cached", robots_url=cached.robots_url, reason=str(exc)
                )
                return cached
            self._remember(origin, rules)
            return rules

    def _read_robots(self, robots_url: str, *, deadline: float, stop: threading.Event) -> RobotsRules:
        try:
            # Read whole, within the fetch cap; RobotsTxt parses its first 500 KiB (RFC 9309 2.5).
            fetched = self._gated_fetch(robots_url, delay=self._min_delay, deadline=deadline, stop=stop)
        except (PollBudgetExhausted, PollInterrupted):
            raise
        except PermanentError as exc:
            # 4xx, too large, undecodable: RFC 9309 treats the site as having no rules.
            log.info("robots_unavailable_allow_all", robots_url=robots_url, reason=str(exc))
            return RobotsRules(robots_url, None, time.monotonic())
        except TransientError as exc:
            raise RobotsUnavailable(f"robots.txt at {robots_url} could not be read ({exc})") from exc
        robots = RobotsTxt.parse(fetched.content, user_agent=self.policy.user_agent)
        return RobotsRules(robots_url, robots, time.monotonic())

    def _remember(self, origin: str, rules: RobotsRules) -> None:
        with self._lock:
            if len(self._robots) >= ROBOTS_CACHE_PRUNE_AT:
                now = time.monotonic()
                for stale in [o for o, r in self._robots.items() if now - r.fetched_at >= self._robots_ttl]:
                    self._robots.pop(stale, None)
                    self._robots_locks.pop(stale, None)
            self._robots[origin] = rules

    def _gated_fetch(
        self,
        url: str,
        *,
        delay: float,
        deadline: float,
        stop: threading.Event,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchedContent:
        with self._gate.slot(origin_of(url), delay=delay, deadline=deadline, stop=stop):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PollBudgetExhausted(f"no time left in this poll to fetch {url}")
            # One fetch never outlives the poll's budget.
            policy = dataclasses.replace(
                self.policy,
                timeout=min(self.policy.timeout, remaining),
                max_bytes=max_bytes or self.policy.max_bytes,
            )
            return fetch_url(url, headers=headers, policy=policy)


@dataclass(frozen=True)
class Credentials:
    """The source's auth header, sent only to the origins the source itself declares."""

    header_name: str
    value: str
    origins: frozenset[str]

    def headers_for(self, url: str) -> dict[str, str]:
        return {self.header_name: self.value} if origin_of(url) in self.origins else {}

    def __repr__(self) -> str:
        return f"Credentials(header_name={self.header_name!r}, value='***', origins={sorted(self.origins)!r})"


@dataclass
class PollContext:
    """What one poll hands its source type (`DiscoveryContext`), plus item fetches for the scheduler."""

    fetcher: PoliteFetcher
    deadline: float
    stop: threading.Event
    validators: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    credentials: Credentials | None = None
    # Validators seen in this poll, per listing URL: stored on the source when the poll completes.
    new_validators: dict[str, dict[str, str]] = field(default_factory=dict)
    listings_fetched: int = 0
    listings_not_modified: int = 0

    def fetch(self, url: str, *, max_bytes: int | None = None) -> FetchedContent | None:
        stored = self.validators.get(url, {})
        headers = self._credential_headers(url)
        if etag := stored.get("etag"):
            headers["If-None-Match"] = etag
        if last_modified := stored.get("last_modified"):
            headers["If-Modified-Since"] = last_modified
        fetched = self.fetcher.get(
            url, deadline=self.deadline, stop=self.stop, headers=headers, max_bytes=max_bytes
        )
        self.listings_fetched += 1
        remembered = {
            key: value
            for key, value in (
                ("etag", fetched.etag or stored.get("etag")),
                ("last_modified", fetched.last_modified or stored.get("last_modified")),
            )
            if value
        }
        if remembered:
            self.new_validators[url] = remembered
        if fetched.status_code == 304:
            self.listings_not_modified += 1
            return None
        return fetched

    def forget(self, url: str) -> None:
        self.new_validators.pop(url, None)

    def fetch_item(self, url: str) -> FetchedContent:
        return self.fetcher.get(
            url, deadline=self.deadline, stop=self.stop, headers=self._credential_headers(url)
        )

    @property
    def unchanged(self) -> bool:
        """Every listing answered 304 Not Modified."""
        return self.listings_fetched > 0 and self.listings_fetched == self.listings_not_modified

    def _credential_headers(self, url: str) -> dict[str, str]:
        return self.credentials.headers_for(url) if self.credentials is not None else {}
