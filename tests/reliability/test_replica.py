"""Reads on a real streaming replica (`DATABASE_READ_URL`): routing, lag and fallback.

The replica is the test session's private cluster copied with `pg_basebackup -R` and started on a
free loopback port (tests/utils/replica.py); the API runs as its own process with DATABASE_URL on
the primary and DATABASE_READ_URL on the replica. Pausing the replica's replay makes it lag on
purpose: a document written then is on the primary only, which tells where each read went.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, text

from bench.processes import free_port, wait_until
from sie.core import replica as replica_module
from sie.core.config import settings
from sie.core.models import Document, DocumentStatus, Job, JobStatus, utcnow
from sie.core.replica import read_session_scope, replica_status
from sie.core.repository.rollups import rebuild_rollups
from tests.reliability.stack import PrivatePostgres, PrivateRedis, Stack
from tests.utils.api import TestKey
from tests.utils.replica import ReplicationRefused, StreamingReplica

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WORD = "lighthouse"


@dataclass
class Replicated:
    stack: Stack
    replica: StreamingReplica
    client: httpx.Client
    key: TestKey

    def search(self) -> set[str]:
        response = self.client.get("/v1/search", params={"q": WORD})
        assert response.status_code == 200, response.text
        return {hit["id"] for hit in response.json()["hits"]}

    def listed_jobs(self, document_id: str) -> list[str]:
        response = self.client.get("/v1/jobs", params={"document_id": document_id})
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["jobs"]]

    def positive(self) -> int:
        response = self.client.get("/v1/insights/sentiment")
        assert response.status_code == 200, response.text
        return response.json()["totals"]["positive"]

    def health(self) -> dict:
        response = self.client.get("/health")
        assert response.status_code == 200, response.text  # the replica never fails readiness
        return response.json()

    def lag(self) -> float:
        text = self.client.get("/metrics").text
        family = next(
            f for f in text_string_to_metric_families(text) if f.name == "sie_db_replica_lag_seconds"
        )
        return family.samples[0].value

    def add_document(self, text: str) -> tuple[str, str]:
        """A searchable, scored document and its finished job, written on the primary (rollups too)."""
        tenant = self.key.tenant
        with self.stack.session() as session, session.begin():
            document = Document(
                tenant=tenant,
                text=text,
                source="replica",
                status=DocumentStatus.done,
                sentiment_label="positive",
                indexed_at=utcnow(),
            )
            session.add(document)
            session.flush()
            job = Job(tenant=tenant, document_id=document.id, queue="ingestion", status=JobStatus.done)
            session.add(job)
            rebuild_rollups(session=session, tenant=tenant)
        return str(document.id), str(job.id)

    def caught_up(self) -> bool:
        return self.replica.caught_up_with(self.stack.postgres.url(self.stack.database))


@pytest.fixture
def unreachable_replica(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """DATABASE_READ_URL on a port nothing listens on; yields the times a connection to it was tried."""
    monkeypatch.setattr(
        settings, "sqlalchemy_read_url", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"
    )
    monkeypatch.setattr(replica_module, "_replica_gate", replica_module._ReplicaGate())
    monkeypatch.setattr(replica_module, "REPLICA_RETRY_SECONDS", 0.5)
    replica_module._read_engine.cache_clear()
    replica_module._read_session_factory.cache_clear()
    attempts: list[float] = []
    event.listen(replica_module._read_engine(), "do_connect", lambda *_: attempts.append(time.monotonic()))
    try:
        yield attempts
    finally:
        replica_module._read_engine().dispose()
        replica_module._read_engine.cache_clear()
        replica_module._read_session_factory.cache_clear()


def primary_read() -> bool:
    """A read through `read_session_scope`; True when it ran on the primary (not in recovery)."""
    with read_session_scope() as session:
        return session.execute(text("SELECT NOT pg_is_in_recovery()")).scalar_one()


def test_a_replica_that_cannot_be_reached_is_tried_once_per_retry_period(
    unreachable_replica: list[float],
) -> None:
    assert primary_read() and primary_read() and primary_read()
    assert len(unreachable_replica) == 1  # the reads after the first did not wait on it
    status = replica_status()
    assert status is not None and status.state == "down" and status.lag_seconds is None
    time.sleep(0.6)
    assert primary_read()
    assert len(unreachable_replica) == 2  # one read once the period ended; /health's check waited too


@pytest.fixture(scope="module")
def replica(private_postgres: PrivatePostgres) -> Iterator[StreamingReplica]:
    standby = StreamingReplica(
        bin_dir=private_postgres.bin_dir,
        primary_port=private_postgres.port,
        password=private_postgres.password,
    )
    try:
        standby.create()
    except ReplicationRefused as exc:
        standby.destroy()
        pytest.skip(
            "the primary refuses replication connections from 127.0.0.1; its pg_hba.conf needs "
            f"`host replication postgres 127.0.0.1/32 <method>` ({exc})"
        )
    try:
        yield standby
    finally:
        standby.destroy()


@pytest.fixture(scope="module")
def replicated(
    private_postgres: PrivatePostgres, replica: StreamingReplica, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicated]:
    """A database made on the primary after the copy (it streams too), and the API reading from both."""
    log_dir = tmp_path_factory.mktemp("replica-logs")
    redis = PrivateRedis(log_dir / "redis-server.out")
    redis.start()
    stack = Stack(
        postgres=private_postgres, redis=redis, database=private_postgres.create_database(), log_dir=log_dir
    )
    try:
        stack.migrate()
        replica.wait_for_database(stack.database)
        read_url = {"DATABASE_READ_URL": replica.url(stack.database)}
        key = stack.make_key()
        with (
            stack.api(env=read_url) as (api_url, _),
            httpx.Client(base_url=api_url, headers=key.headers, timeout=30) as client,
        ):
            yield Replicated(stack, replica, client, key)
    finally:
        stack.dispose()
        redis.stop()


def test_lagging_reads_come_from_the_replica_and_fresh_ones_from_the_primary(replicated: Replicated) -> None:
    first, _ = replicated.add_document(f"The {WORD} keeper logged the first storm.")
    wait_until(replicated.caught_up, timeout=30, what="the replica to replay the first document")
    assert replicated.search() == {first}
    assert replicated.positive() == 1
    wait_until(lambda: replicated.lag() == 0, timeout=10, what="no lag once replayed")

    replicated.replica.pause_replay()
    try:
        second, second_job = replicated.add_document(f"The {WORD} keeper logged a second storm.")
        # On the primary: the document and its job are there at once.
        assert replicated.client.get(f"/v1/documents/{second}").status_code == 200
        assert replicated.client.get(f"/v1/jobs/{second_job}").status_code == 200
        # On the replica, which has not replayed them: search, the job list and insights lag behind.
        assert replicated.search() == {first}
        assert replicated.listed_jobs(second) == []
        assert replicated.positive() == 1
        # A job submitted now is read back at once, from the primary, never a 404.
        accepted = replicated.client.post("/v1/documents", json={"text": f"A {WORD} on the cliff."})
        assert accepted.status_code == 202, accepted.text
        assert replicated.client.get(f"/v1/jobs/{accepted.json()['job_id']}").status_code == 200
        # Measured at most once a second: the first scrape may show the last measurement.
        wait_until(lambda: replicated.lag() > 0, timeout=5, what="the lag measured")
        health = replicated.health()
        assert health["status"] == "ok" and health["replica"]["lag_seconds"] > 0
        assert health["replica"]["state"] in ("up", "lagging")
    finally:
        replicated.replica.resume_replay()

    wait_until(lambda: replicated.search() == {first, second}, timeout=30, what="the replica to catch up")
    assert replicated.listed_jobs(second) == [second_job]
    assert replicated.positive() == 2
    wait_until(lambda: replicated.lag() == 0, timeout=10, what="the lag back to 0")
    assert replicated.health()["replica"] == {"state": "up", "lag_seconds": 0.0, "error": None}


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(replicated: Replicated) -> None:
    document, job = replicated.add_document(f"The {WORD} beam swept the bay {uuid.uuid4().hex[:6]}.")
    wait_until(replicated.caught_up, timeout=30, what="the replica to replay the document")

    replicated.replica.stop()
    try:
        # The first read after the loss finds the pooled connections dead and goes to the primary.
        assert document in replicated.search()
        assert replicated.listed_jobs(document) == [job]
        assert replicated.positive() >= 1
        health = replicated.health()
        assert health["status"] == "ok"
        assert health["replica"]["state"] == "down" and health["replica"]["lag_seconds"] is None
        assert math.isnan(replicated.lag())
        # Written while the replica is away: reads from the primary see it.
        missed, _ = replicated.add_document(f"The {WORD} stayed dark {uuid.uuid4().hex[:6]}.")
        assert missed in replicated.search()
    finally:
        replicated.replica.start()

    wait_until(
        lambda: replicated.health()["replica"]["state"] == "up", timeout=60, what="the replica back up"
    )
    wait_until(replicated.caught_up, timeout=30, what="the replica to catch up")
    # In use again: with its replay paused, a new document is missing from search.
    replicated.replica.pause_replay()
    try:
        unseen, _ = replicated.add_document(f"The {WORD} was repainted {uuid.uuid4().hex[:6]}.")
        assert replicated.client.get(f"/v1/documents/{unseen}").status_code == 200
        assert missed in replicated.search() and unseen not in replicated.search()
    finally:
        replicated.replica.resume_replay()
    wait_until(lambda: unseen in replicated.search(), timeout=30, what="the replica to replay it")
