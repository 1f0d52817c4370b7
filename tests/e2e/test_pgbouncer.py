"""Every component through a real PgBouncer in transaction pooling mode (`DATABASE_POOL_MODE=transaction`).

PgBouncer (tests/utils/pgbouncer.py) gives each transaction whichever server connection is free,
so nothing may outlive a transaction: no session-level state, and no statement prepared on the
server (psycopg prepares a query once it has run 5 times, by default; PgBouncer before 1.21 does
not carry prepared statements across server connections). The API (with its relay thread), a Celery worker,
the scheduler and `sie migrate` all run here with DATABASE_URL on PgBouncer.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from bench.processes import REPO_ROOT, api_server, celery_worker, wait_until
from bench.scratch import ScratchServices
from sie.core.config import settings
from sie.core.db import postgres_engine, session_scope
from sie.core.engine.ingest import NewDocument
from sie.core.models import Document, Job, JobStatus, Source, utcnow
from tests.reliability.stack import http_site
from tests.utils.api import make_key
from tests.utils.corpus import known_documents
from tests.utils.pgbouncer import PgBouncer
from tests.utils.site import QuietHandler

pytestmark = pytest.mark.slow

SIE_COMMAND = str(Path(sys.executable).with_name("sie"))
# A database entry with one server connection: every client's transactions share it.
SHARED = "one_server_connection"


def _run_database() -> tuple[str, int, str]:
    parts = urlsplit(settings.database_url or "")
    return parts.hostname or "127.0.0.1", parts.port or 5432, parts.path.lstrip("/")


@pytest.fixture(scope="module")
def bouncer(services: ScratchServices) -> Iterator[PgBouncer]:
    host, port, database = _run_database()
    pgbouncer = PgBouncer(
        upstream_port=port, aliases={SHARED: f"host={host} port={port} dbname={database} pool_size=1"}
    )
    pgbouncer.start()
    try:
        yield pgbouncer
    finally:
        pgbouncer.stop()


def bounced_env(bouncer: PgBouncer, database: str | None = None) -> dict[str, str]:
    """What an SIE process runs with behind PgBouncer."""
    return {
        "DATABASE_URL": bouncer.url(database or _run_database()[2]),
        "DATABASE_POOL_MODE": "transaction",
        "RELAY_INTERVAL_SECONDS": "0.5",
        "RELAY_GRACE_SECONDS": "1",
        "METRICS_PORT": "0",
    }


def test_repeated_statements_share_server_connections_safely(
    bouncer: PgBouncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients run the same query 10 times each, taking turns on one server connection."""

    def take_turns(pool_mode: str) -> None:
        monkeypatch.setattr(settings, "database_pool_mode", pool_mode)
        engine = postgres_engine(bouncer.url(SHARED).replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as first, engine.connect() as second:
                for attempt in range(10):
                    for connection in (first, second):
                        query = text("SELECT count(*) FROM jobs WHERE attempts >= :n")
                        assert connection.execute(query, {"n": attempt}).scalar_one() >= 0
                        connection.commit()
        finally:
            engine.dispose()

    # What the setting prevents: psycopg's default prepares the query, and the other client's
    # prepared statement of the same name is already on the shared server connection.
    with pytest.raises(DBAPIError, match="prepared statement"):
        take_turns("session")
    take_turns("transaction")


class Pages(QuietHandler):
    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            self.send_body(404, "text/plain", "")
            return
        words = f"Pooled page {self.path}: the harbour master of Lisbon met a delegation from Siemens."
        self.send_body(200, "text/html", f"<html><body><article><p>{words}</p></article></body></html>")


@pytest.fixture
def site() -> Iterator[str]:
    with http_site(Pages) as url:
        yield url


def jobs_by_status(tenant: str) -> dict[str, int]:
    with session_scope() as session:
        rows = session.execute(
            select(Job.status, func.count()).where(Job.tenant == tenant).group_by(Job.status)
        ).all()
    return {status: count for status, count in rows}


def jobs_by_source(tenant: str) -> dict[tuple[str, str], int]:
    """The tenant's jobs by their document's source and their status: what a failure shows."""
    with session_scope() as session:
        rows = session.execute(
            select(Document.source, Job.status, func.count())
            .join(Document, Document.id == Job.document_id)
            .where(Job.tenant == tenant)
            .group_by(Document.source, Job.status)
        ).all()
    return {(source, status): count for source, status, count in rows}


def add_unsent_job(tenant: str) -> uuid.UUID:
    """A committed job that never reached Redis (the outbox case): only the relay sends it."""
    with session_scope() as session:
        pushed = NewDocument(
            text="Relayed report: Tokyo welcomed a delegation from Google.", source="relayed"
        )
        document = Document(
            tenant=tenant, text=pushed.text, source=pushed.source, content_hash=pushed.content_hash
        )
        session.add(document)
        session.flush()
        job = Job(
            tenant=tenant,
            document_id=document.id,
            queue="ingestion",
            created_at=utcnow() - timedelta(minutes=1),
        )
        session.add(job)
    return job.id


def transactions_through(bouncer: PgBouncer) -> int:
    with psycopg.connect(bouncer.url("pgbouncer"), autocommit=True) as admin:
        cursor = admin.execute("SHOW STATS")
        columns = [column.name for column in cursor.description or ()]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return sum(row["total_xact_count"] for row in rows if row["database"] == _run_database()[2])


def test_api_worker_relay_and_scheduler_through_pgbouncer(
    bouncer: PgBouncer, site: str, tmp_path: Path
) -> None:
    env = bounced_env(bouncer)
    key = make_key(admin=True)
    documents = known_documents(12, tag=f"-{uuid.uuid4().hex[:6]}")
    before = transactions_through(bouncer)
    with (
        api_server(env=env, log_path=tmp_path / "api.log") as api_url,
        celery_worker(env=env, log_path=tmp_path / "worker.log"),
        httpx.Client(base_url=api_url, headers=key.headers, timeout=30) as client,
    ):
        accepted = [
            client.post("/v1/documents", json={"text": d.text, "source": "pooled"}) for d in documents
        ]
        assert [response.status_code for response in accepted] == [202] * len(documents)
        for response in accepted:  # read back at once, and more than 5 times the same statement
            assert client.get(f"/v1/jobs/{response.json()['job_id']}").status_code == 200
        relayed = add_unsent_job(key.tenant)

        source = client.post(
            "/v1/sources",
            json={
                "name": "pooled",
                "type": "url_list",
                "urls": [f"{site}/a", f"{site}/b"],
                "interval": "15m",
            },
        )
        assert source.status_code == 201, source.text
        # One pass claims SCHEDULER_CONCURRENCY due sources, the longest due first: other tests'
        # sources in the run's database must not crowd this new one out of it.
        with session_scope() as session:
            session.execute(
                update(Source)
                .where(Source.id == uuid.UUID(source.json()["id"]))
                .values(next_run_at=utcnow() - timedelta(days=3650))
            )
        polled = subprocess.run(
            [SIE_COMMAND, "scheduler", "--once"],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        # Every due source of the test run's database is polled (other tests' too); the jobs counted
        # below show that this one was.
        assert polled.returncode == 0 and re.search(r"\b[1-9]\d* sources polled", polled.stdout), (
            polled.stderr[-2000:]
        )

        expected = len(documents) + 1 + 2
        finished = {JobStatus.done, JobStatus.failed, JobStatus.dead}
        with contextlib.suppress(TimeoutError):  # the assertion says what is left
            wait_until(
                lambda: (
                    sum(jobs_by_status(key.tenant).values()) >= expected
                    and set(jobs_by_status(key.tenant)) <= finished
                ),
                timeout=240,
                interval=0.5,
            )
        assert jobs_by_status(key.tenant) == {JobStatus.done: expected}, jobs_by_source(key.tenant)
        with session_scope() as session:
            assert session.get(Job, relayed).status == JobStatus.done

        tokyo = [d for d in documents if d.city == "Tokyo"]
        results = client.get("/v1/search", params={"q": "delegation Tokyo"}).json()
        assert results["total"] == len(tokyo) + 1  # the relayed report is about Tokyo too
        assert client.get("/v1/search", params={"q": "harbour master"}).json()["total"] == 2
        totals = client.get("/v1/insights/sentiment").json()["totals"]
        assert sum(totals.values()) == expected
        assert client.get("/v1/sources/pooled").json()["status"]["items_ingested"] == 2

    assert transactions_through(bouncer) - before > 100
    logs = "\n".join(path.read_text(errors="replace") for path in tmp_path.glob("*.log"))
    assert "prepared statement" not in logs and "Traceback" not in logs


def test_migrations_run_through_pgbouncer(bouncer: PgBouncer, scratch_database: str) -> None:
    database = urlsplit(scratch_database).path.lstrip("/")
    migrated = subprocess.run(
        [SIE_COMMAND, "migrate"],
        cwd=REPO_ROOT,
        env={**os.environ, **bounced_env(bouncer, database)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    with psycopg.connect(bouncer.url(database), autocommit=True, prepare_threshold=None) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
