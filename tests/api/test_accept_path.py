"""The lean accept path keeps its promises: one copy of each content under concurrent requests, one
answer per Idempotency-Key, jobs that could not reach Redis kept for the relay, Celery's own message
format on Celery's queues, a database restart that fails no request, and health probes that cannot
load the database."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sie_api.routes.health import HEALTH_CACHE_SECONDS
from sqlalchemy import event, func, select

from sie.core.db import get_engine, session_scope
from sie.core.engine.ingest import Idempotency, NewDocument, accept
from sie.core.engine.outbox import Submission
from sie.core.engine.queue import CeleryQueue, celery_producer
from sie.core.engine.relay import relay_once
from sie.core.models import Document, IdempotencyRecord, Job
from sie.core.queues import QUEUE_EPOCH_KEY, QUEUE_LOW, TASK_PROCESS_JOBS
from tests.utils.api import api_client_with_queue, make_key
from tests.worker.test_job_runner import FailingQueue, RecordingQueue

THREADS = 8


def first_answer(submissions: list[Submission]) -> dict[str, Any]:
    return submissions[0].as_response()


def at_once(task: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """`task` run by THREADS threads released together; their answers."""
    barrier = threading.Barrier(THREADS)
    answers: list[dict[str, Any]] = []

    def run() -> None:
        barrier.wait()
        answers.append(task())

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def documents_of(tenant: str) -> int:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Document).where(Document.tenant == tenant)) or 0
        )


def test_the_same_text_sent_at_once_is_stored_once() -> None:
    tenant, queue = f"t-{uuid.uuid4().hex[:8]}", RecordingQueue()
    text = f"Sent by eight clients at once {uuid.uuid4()}: the ferry to Tallinn left on time."
    answers = at_once(
        lambda: accept(queue, tenant=tenant, documents=[NewDocument(text=text)], respond=first_answer)
    )
    assert len(answers) == THREADS and len({answer["document_id"] for answer in answers}) == 1
    assert sum(not answer.get("duplicate") for answer in answers) == 1
    assert documents_of(tenant) == 1
    assert len(queue.job_ids()) == 1  # only the new job is enqueued


def test_one_idempotency_key_sent_at_once_creates_once_and_answers_alike() -> None:
    tenant, key = f"t-{uuid.uuid4().hex[:8]}", Idempotency(f"key-{uuid.uuid4()}", "same-body")
    documents = [NewDocument(text=f"Keyed {uuid.uuid4()}"), NewDocument(url="http://127.0.0.1:9/keyed")]

    def send() -> dict[str, Any]:
        return accept(
            RecordingQueue(),
            tenant=tenant,
            documents=documents,
            respond=lambda subs: {"results": [sub.as_response() for sub in subs]},
            idempotency=key,
        )

    answers = at_once(send)
    assert len(answers) == THREADS and all(answer == answers[0] for answer in answers)
    assert documents_of(tenant) == 2
    with session_scope() as session:
        assert session.scalar(select(func.count()).where(IdempotencyRecord.tenant == tenant)) == 1


def test_a_job_that_cannot_reach_redis_waits_in_the_outbox_for_the_relay(redis_client) -> None:
    key = make_key()
    with api_client_with_queue(FailingQueue()) as client:
        response = client.post(
            "/v1/documents", json={"text": f"Redis is down {uuid.uuid4()}"}, headers=key.headers
        )
    assert response.status_code == 202  # committed before the answer, though Redis refused the job
    job_id = uuid.UUID(response.json()["job_id"])
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.enqueued_at is None
        job.created_at = job.created_at.replace(year=job.created_at.year - 1)  # past the grace period
    redis_client.set(QUEUE_EPOCH_KEY, "current")
    relay = RecordingQueue()
    relay_once(relay)
    assert job_id in relay.job_ids()


def test_a_published_job_is_the_message_celery_sends(redis_client) -> None:
    """What `send_task` pushes, field for field but the ids and the clock; a worker started with the
    handbook's command runs these messages (tests/e2e, tests/reliability)."""
    redis_client.delete(QUEUE_LOW)
    job_ids = [uuid.uuid4(), uuid.uuid4()]
    CeleryQueue().enqueue(QUEUE_LOW, job_ids, countdown=30)
    celery_producer().send_task(
        TASK_PROCESS_JOBS,
        args=[[str(job_id) for job_id in job_ids]],
        queue=QUEUE_LOW,
        countdown=30,
        retry=False,
    )
    celerys, ours = [json.loads(message) for message in redis_client.lrange(QUEUE_LOW, 0, -1)]
    redis_client.delete(QUEUE_LOW)

    assert ours.keys() == celerys.keys() and ours["headers"].keys() == celerys["headers"].keys()
    assert ours["properties"].keys() == celerys["properties"].keys()
    for part, names in {
        "": ("content-type", "content-encoding"),
        "headers": (
            "lang",
            "task",
            "shadow",
            "expires",
            "group",
            "retries",
            "timelimit",
            "argsrepr",
            "kwargsrepr",
        ),
        "properties": ("delivery_mode", "delivery_info", "priority", "body_encoding"),
    }.items():
        for name in names:
            assert (ours[part] if part else ours)[name] == (celerys[part] if part else celerys)[name], name
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(base64.b64decode(celerys["body"]))
    our_eta, celery_eta = (
        time.mktime(time.strptime(m["headers"]["eta"][:19], "%Y-%m-%dT%H:%M:%S")) for m in (ours, celerys)
    )
    assert abs(our_eta - celery_eta) < 5


def test_a_database_restart_between_requests_fails_no_request(client: TestClient) -> None:
    key = make_key()
    assert (
        client.post("/v1/documents", json={"text": f"before {uuid.uuid4()}"}, headers=key.headers).status_code
        == 202
    )
    # What a restart leaves in the pool: connections whose server side is gone.
    url = get_engine().url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert ended is not None and ended[0] > 0
    after = client.post("/v1/documents", json={"text": f"after {uuid.uuid4()}"}, headers=key.headers)
    assert after.status_code == 202


def test_a_value_the_database_refuses_in_a_search_is_a_422_not_a_500(client: TestClient) -> None:
    """The key is read without the route's session now; a route that reads through the search
    backend still has its database failures mapped (the principal dependency maps them)."""
    response = client.get("/v1/search", params={"entity": "\x00"}, headers=make_key().headers)
    assert response.status_code == 422


@pytest.fixture
def select_ones() -> Any:
    """The `SELECT 1` statements this process sends (what the health checks run), as they happen."""
    seen: list[float] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.strip() == "SELECT 1":
            seen.append(time.monotonic())

    event.listen(get_engine(), "before_cursor_execute", note)
    yield seen
    event.remove(get_engine(), "before_cursor_execute", note)


def test_health_probes_run_the_checks_at_most_once_a_second(
    client: TestClient, select_ones: list[float]
) -> None:
    time.sleep(HEALTH_CACHE_SECONDS)  # whatever an earlier test checked has expired
    assert client.get("/health").status_code == 200
    one_check = len(select_ones)
    assert one_check > 0

    started = time.monotonic()
    answers = [client.get("/health") for _ in range(50)]
    windows = int((time.monotonic() - started) / HEALTH_CACHE_SECONDS) + 1
    assert all(
        answer.status_code == 200 and answer.json()["checks"]["database"] == "ok" for answer in answers
    )
    assert len(select_ones) - one_check <= one_check * windows  # 50 probes, at most a check a second

    before = len(select_ones)
    time.sleep(HEALTH_CACHE_SECONDS + 0.1)
    assert client.get("/health").status_code == 200
    assert len(select_ones) == before + one_check  # a second later the checks run again
