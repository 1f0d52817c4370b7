"""`sie_dependency_up{dependency}`: what the API's /health finds, exported for SIEDependencyDown.

Before, the API stayed "up" for Prometheus while /health answered 503: no metric said which
dependency was down, and no alert fired.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bench.processes import free_port, wait_until
from sie.core.engine import queue as queue_module


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    from sie_api.main import app

    with TestClient(app) as test_client:
        yield test_client


def dependencies_up(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        sample.labels["dependency"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "sie_dependency_up"
    }


def test_health_sets_each_dependency_up_or_down(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/health").status_code == 200
    assert dependencies_up(client) == {"database": 1.0, "redis": 1.0, "search": 1.0}

    # Redis goes away: nothing listens where the queue's client connects any more.
    gone = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1, socket_timeout=1)
    monkeypatch.setattr(queue_module, "redis_client", lambda: gone)
    wait_until(lambda: client.get("/health").status_code == 503, timeout=10, what="/health to see Redis gone")
    assert dependencies_up(client) == {"database": 1.0, "redis": 0.0, "search": 1.0}

    monkeypatch.undo()
    wait_until(lambda: client.get("/health").status_code == 200, timeout=10, what="/health to see Redis back")
    assert dependencies_up(client)["redis"] == 1.0
