"""Fixtures for the observability tests: the run's real Redis as a Celery broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu.transport.redis import Channel

from bench.scratch import ScratchServices
from sie.core.engine.backlog import UNACKED_HASH, priority_lists
from sie.core.engine.queue import make_celery_app
from sie.core.queues import ALL_QUEUES, DEAD_LETTER_LIST


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


def _broker_keys() -> list[str]:
    keys = [key for queue in ALL_QUEUES for key in priority_lists(queue)]
    return [*keys, UNACKED_HASH, Channel.unacked_index_key, DEAD_LETTER_LIST]


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """This run's Redis db, as kombu sees it (bytes), with the queues, unacked and DLQ keys empty."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete(*_broker_keys())
    yield client
    client.delete(*_broker_keys())
    client.close()


@pytest.fixture
def producer() -> Any:
    """SIE's own Celery app configuration, as the API uses it to enqueue."""
    return make_celery_app("sie-test-producer")
