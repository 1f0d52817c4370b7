"""Rate limits per key and priority (handbook §5.3), counted in Redis under `rate_limit:<key id>:<priority>`.

A fixed window per period: `redis-cli GET rate_limit:<key id>:normal` shows the count in the
current window, as the runbook expects. The batch endpoint charges one unit per document.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

from sie.core.errors import ServiceUnavailable

# The handbook's defaults: requests per period (seconds), per priority.
DEFAULT_RATE_LIMITS: dict[str, dict[str, int]] = {
    "low": {"requests": 10, "period": 60},
    "normal": {"requests": 30, "period": 60},
    "high": {"requests": 60, "period": 60},
}

# INCRBY and set the expiry on the first hit, atomically; refuse (and undo) past the limit.
_WINDOW_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
if count > tonumber(ARGV[3]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return {0, count - tonumber(ARGV[1]), ttl}
end
return {1, count, ttl}
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


def limit_for(priority: str, overrides: dict[str, dict[str, int]] | None) -> tuple[int, int]:
    rule = (overrides or {}).get(priority) or DEFAULT_RATE_LIMITS[priority]
    return int(rule["requests"]), int(rule["period"])


class RateLimiter(Protocol):
    def hit(
        self, key_id: str, priority: str, cost: int, overrides: dict[str, dict[str, int]] | None
    ) -> RateDecision: ...


def rate_limit_key(key_id: str, priority: str) -> str:
    return f"rate_limit:{key_id}:{priority}"


class RedisRateLimiter:
    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_WINDOW_SCRIPT)

    def hit(
        self, key_id: str, priority: str, cost: int, overrides: dict[str, dict[str, int]] | None
    ) -> RateDecision:
        limit, period = limit_for(priority, overrides)
        try:
            allowed, count, ttl = self._script(
                keys=[rate_limit_key(key_id, priority)], args=[cost, period, limit]
            )
        except redis.RedisError as exc:
            raise ServiceUnavailable("redis", type(exc).__name__) from exc
        return RateDecision(bool(allowed), limit, max(0, limit - int(count)), max(1, int(ttl)))


class MemoryRateLimiter:
    """Local mode (no Redis): the same fixed windows, in this process."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(
        self, key_id: str, priority: str, cost: int, overrides: dict[str, dict[str, int]] | None
    ) -> RateDecision:
        limit, period = limit_for(priority, overrides)
        key = rate_limit_key(key_id, priority)
        now = time.monotonic()
        with self._lock:
            expires, count = self._windows.get(key, (now + period, 0))
            if expires <= now:
                expires, count = now + period, 0
            retry_after = max(1, int(expires - now + 0.999))
            if count + cost > limit:
                return RateDecision(False, limit, max(0, limit - count), retry_after)
            self._windows[key] = (expires, count + cost)
            return RateDecision(True, limit, limit - count - cost, retry_after)
