"""kombu's Redis transport with one fix, so a Celery worker outlives a Redis outage.

When the broker connection drops while messages are delivered but not yet acknowledged (always,
with `acks_late` and a busy pool), Celery closes the broken connection; closing its channel again
tries to restore those messages through a connection pool rebuilt from the already-released
connection, and kombu 5.7 fails there with `AttributeError: 'NoneType' object has no attribute
'hostname'`. Celery only ignores connection errors during that clean-up, so the AttributeError
was an "Unrecoverable error" and the worker exited instead of reconnecting. Here the same
situation is a connection error: the clean-up goes on, and the worker reconnects by itself.

The messages it could not restore stay in Redis's `unacked` hash until CELERY_VISIBILITY_TIMEOUT
brings them back; when Redis lost its data, the relay re-sends the jobs (`sie.core.engine.relay`).
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

# The name Celery's `broker_transport` takes, and the scheme its log lines show.
TRANSPORT_NAME = "sie-redis"


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection was already released")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT_ALIASES[TRANSPORT_NAME] = f"{__name__}:Transport"
