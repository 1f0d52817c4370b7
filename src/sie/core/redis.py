"""The process's one Redis client (queues, rate limits, the `dead_letter` list, backlog readings)."""

from __future__ import annotations

from functools import cache

import redis

from sie.core.config import settings
from sie.core.errors import ServiceUnavailable


@cache
def redis_client() -> redis.Redis:
    if settings.redis_url is None:
        raise ServiceUnavailable("redis", "REDIS_URL is not set")
    return redis.Redis.from_url(
        settings.redis_url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=30
    )


def redis_client_or_none() -> redis.Redis | None:
    """The client, or None in local mode (no REDIS_URL)."""
    try:
        return redis_client()
    except ServiceUnavailable:
        return None
