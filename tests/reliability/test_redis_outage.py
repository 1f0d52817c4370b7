"""Redis stopped for 20 s during an ingest (and started again empty, as it keeps nothing on disk).

While it is down the API answers 503 with Retry-After (the rate limiter cannot count) or 202 (a job
accepted into the outbox), never 500. Once it is back the same worker process reconnects by
itself, the relay sends every unfinished job again, every accepted job completes, and the
`dead_letter` list is rebuilt from PostgreSQL.
"""

from __future__ import annotations

import httpx
import pytest
from kombu import Connection, Queue

from bench.processes import wait_until
from sie.core.engine.broker import TRANSPORT_NAME
from tests.reliability.stack import (
    PrivateRedis,
    Stack,
    assert_clear_503s_only,
    assert_no_secret_in_logs,
    http_site,
    ingest_through_outage,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

OUTAGE_SECONDS = 20
DEAD_LETTERS = 3
# A failing fetch is retried once, then dead-lettered: quick dead letters to watch survive.
WORKER_ENV = {"TASK_MAX_RETRIES": "1"}


def test_redis_down_for_twenty_seconds_loses_nothing(stack: Stack) -> None:
    key = stack.make_key()
    redis_client = stack.redis.client()
    with (
        http_site() as failing_site,
        stack.api() as (api_url, _),
        stack.worker(env=WORKER_ENV) as worker,
        httpx.Client(base_url=api_url, headers=key.headers, timeout=30) as client,
    ):
        for page in range(DEAD_LETTERS):
            response = client.post("/v1/documents", json={"url": f"{failing_site}/gone-{page}"})
            assert response.status_code == 202
        wait_until(
            lambda: redis_client.llen("dead_letter") == DEAD_LETTERS, timeout=120, what="three dead letters"
        )
        outage = ingest_through_outage(
            stack, api_url, key, stack.redis, seconds=OUTAGE_SECONDS, done_timeout=240
        )
        wait_until(
            lambda: redis_client.llen("dead_letter") == DEAD_LETTERS,
            timeout=30,
            what="the dead_letter list rebuilt",
        )
        health_after = client.get("/health")
        # Only this worker ran, and it was never restarted: it reconnected by itself.
        assert worker.poll() is None, "the worker process died"

    print(f"\n{outage.summary('Redis')}")
    assert_clear_503s_only(outage, "redis")
    assert health_after.status_code == 200
    assert_no_secret_in_logs(stack, {"API key": key.plain})


def test_a_worker_cleaning_up_after_a_lost_broker_gets_a_connection_error(tmp_path) -> None:
    """The state of the crash the outage above once hit, made on purpose (`sie.core.engine.broker`).

    A message is delivered and not acknowledged, Redis goes away, and Celery's clean-up has already
    released the transport's connection when it closes the channel again.
    """
    server = PrivateRedis(tmp_path / "redis.out")
    server.start()
    outcomes = {}
    try:
        for transport in ("redis", TRANSPORT_NAME):
            connection = Connection(server.url, transport=transport)
            queue = Queue(f"q-{transport}")
            with connection.Producer() as producer:
                producer.publish({"job": 1}, routing_key=queue.name, declare=[queue])
            received = []
            consumer = connection.Consumer(
                queue, accept=["json"], callbacks=[lambda body, _, received=received: received.append(body)]
            )
            consumer.consume()
            connection.drain_events(timeout=5)
            assert received == [{"job": 1}]
            server.stop()
            connection.transport.client = None
            try:
                connection.close()
                outcomes[transport] = "closed"
            except AttributeError as exc:
                outcomes[transport] = f"AttributeError: {exc}"
            server.start()
    finally:
        server.stop()
    # kombu's own transport crashes here (the worker died with it); if it stops,
    # sie.core.engine.broker can go.
    assert outcomes["redis"].startswith("AttributeError"), "kombu fixed this: remove sie.core.engine.broker"
    assert outcomes[TRANSPORT_NAME] == "closed"
