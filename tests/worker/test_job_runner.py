"""The job runner on the real database: stages, idempotency, retries, dead letters, relay, re-index."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine import indexing
from sie.core.engine.deadletter import replay_dead_letters, sync_dead_letter_list
from sie.core.engine.ingest import NewDocument, ingest
from sie.core.engine.jobs.claim import claim_jobs
from sie.core.engine.jobs.outcome import finish_failure
from sie.core.engine.jobs.run import run_jobs
from sie.core.engine.relay import reindex_once, relay_once
from sie.core.errors import FetchTransientError, ServiceUnavailable
from sie.core.models import DeadLetter, Document, DocumentEntity, Job, utcnow
from sie.core.queues import DEAD_LETTER_LIST, QUEUE_EPOCH_KEY, QUEUE_NORMAL
from sie.core.repository.dead_letters import ReplaySelector
from sie.core.search import SearchQuery, get_search_backend


class RecordingQueue:
    """Stands in for the broker in runner tests: records what would be sent (the e2e tests use Celery)."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[uuid.UUID], float]] = []

    def enqueue(self, queue: str, job_ids, *, countdown: float = 0) -> None:
        self.sent.append((queue, list(job_ids), countdown))

    def check(self) -> None:
        return None

    def job_ids(self) -> list[uuid.UUID]:
        return [job_id for _, ids, _ in self.sent for job_id in ids]


class FailingQueue(RecordingQueue):
    def enqueue(self, queue: str, job_ids, *, countdown: float = 0) -> None:
        raise ServiceUnavailable("redis", "ConnectionError")


class SiteHandler(BaseHTTPRequestHandler):
    pages: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:
        status, content_type, body = self.pages.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def submit(tenant: str, *documents: NewDocument) -> list[uuid.UUID]:
    queue = RecordingQueue()
    submissions = ingest(queue, tenant=tenant, documents=list(documents))
    return [submission.job_id for submission in submissions]


def job_row(job_id: uuid.UUID) -> Job:
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def document_of(job_id: uuid.UUID) -> Document:
    with session_scope() as session:
        job = session.get(Job, job_id)
        document = session.get(Document, job.document_id)  # type: ignore[union-attr]
        assert document is not None
        return document


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_text_document_is_enriched_stored_and_searchable() -> None:
    owner = tenant()
    text = "Apple opened a wonderful new office in Berlin. Tim Cook was delighted and praised the team."
    [job_id] = submit(owner, NewDocument(text=text, title="Apple in Berlin"))
    run_jobs([job_id], queue=RecordingQueue())

    job = job_row(job_id)
    assert job.status == "done" and job.attempts == 1
    document = document_of(job_id)
    assert document.status == "done" and document.indexed_at is not None
    labels = {(entity["text"], entity["label"]) for entity in document.entities}
    assert ("Apple", "ORG") in labels and ("Berlin", "GPE") in labels and ("Tim Cook", "PERSON") in labels
    assert document.sentiment_label == "positive" and document.sentiment_compound > 0.3  # type: ignore[operator]
    assert document.language == "en" and document.keywords
    hits = get_search_backend().search(SearchQuery(tenant=owner, q="office Berlin")).hits
    assert [hit.id for hit in hits] == [str(document.id)]


def test_redelivered_job_changes_nothing() -> None:
    owner = tenant()
    [job_id] = submit(owner, NewDocument(text="Microsoft hired engineers in Dublin and Seattle."))
    run_jobs([job_id], queue=RecordingQueue())
    first = document_of(job_id)
    # A second delivery of the same message (acks_late after a crash) finds the job done.
    run_jobs([job_id], queue=RecordingQueue())
    with session_scope() as session:
        documents = session.scalar(select(func.count()).select_from(Document).where(Document.tenant == owner))
        entity_rows = session.scalar(
            select(func.count()).select_from(DocumentEntity).where(DocumentEntity.document_id == first.id)
        )
    assert documents == 1
    assert entity_rows == len(first.entities)
    assert job_row(job_id).attempts == 1


def test_crashed_attempt_is_finished_by_the_redelivery() -> None:
    [job_id] = submit(tenant(), NewDocument(text="Nokia shipped phones from Espoo."))
    # A worker claimed it and died before storing: the job is left `running`.
    claim_jobs([job_id])
    assert job_row(job_id).status == "running"
    run_jobs([job_id], queue=RecordingQueue())
    assert job_row(job_id).status == "done" and job_row(job_id).attempts == 2


def test_url_document_is_fetched_and_extracted(site: str) -> None:
    SiteHandler.pages["/article"] = (
        200,
        "text/html; charset=utf-8",
        b"<html><head><title>Rome News</title></head><body><nav>Menu Home About</nav>"
        b"<article><p>The mayor of Rome announced a terrible flood warning for the Tiber.</p></article>"
        b"<footer>Copyright</footer></body></html>",
    )
    [job_id] = submit(tenant(), NewDocument(url=f"{site}/article"))
    run_jobs([job_id], queue=RecordingQueue())
    document = document_of(job_id)
    assert document.status == "done" and document.title == "Rome News"
    assert "Tiber" in (document.text or "") and "Menu" not in (document.text or "")
    assert document.sentiment_label == "negative"


def test_same_content_from_a_url_is_a_duplicate(site: str) -> None:
    owner = tenant()
    text = f"Unique plain words {uuid.uuid4()} about Oslo."
    SiteHandler.pages["/dup"] = (200, "text/plain", text.encode())
    [first] = submit(owner, NewDocument(text=text))
    run_jobs([first], queue=RecordingQueue())
    [second] = submit(owner, NewDocument(url=f"{site}/dup"))
    run_jobs([second], queue=RecordingQueue())
    assert job_row(second).status == "done"
    duplicate = document_of(second)
    assert duplicate.status == "duplicate" and duplicate.duplicate_of == document_of(first).id


def test_permanent_failure_fails_the_job_with_its_reason(site: str) -> None:
    [job_id] = submit(tenant(), NewDocument(url=f"{site}/missing"))
    queue = RecordingQueue()
    run_jobs([job_id], queue=queue)
    job = job_row(job_id)
    assert job.status == "failed" and "404" in (job.error or "")
    assert document_of(job_id).status == "failed"
    assert queue.sent == []  # not retried


def test_refused_address_fails_without_retry() -> None:
    [job_id] = submit(tenant(), NewDocument(url="http://169.254.169.254/latest/meta-data/"))
    run_jobs([job_id], queue=RecordingQueue())
    job = job_row(job_id)
    assert job.status == "failed" and job.error_kind == "fetch_refused"


def test_transient_failures_retry_with_backoff_then_dead_letter(site: str, redis_client) -> None:
    SiteHandler.pages["/flaky"] = (503, "text/plain", b"busy")
    [job_id] = submit(tenant(), NewDocument(url=f"{site}/flaky", source="newsroom"))
    delays: list[float] = []
    for attempt in range(1, settings.task_max_retries + 2):
        queue = RecordingQueue()
        run_jobs([job_id], queue=queue)
        job = job_row(job_id)
        assert job.attempts == attempt
        if attempt <= settings.task_max_retries:
            assert job.status == "pending"
            [(queue_name, ids, countdown)] = queue.sent
            assert queue_name == QUEUE_NORMAL and ids == [job_id] and countdown > 0
            delays.append(countdown)
    assert delays[-1] > delays[0]  # exponential
    job = job_row(job_id)
    assert job.status == "dead" and "503" in (job.error or "")
    with session_scope() as session:
        letter = session.scalar(select(DeadLetter).where(DeadLetter.job_id == job_id))
        assert letter is not None and letter.source == "newsroom"
    entries = [json.loads(item) for item in redis_client.lrange(DEAD_LETTER_LIST, 0, -1)]
    assert str(job_id) in {entry["job_id"] for entry in entries}


def test_two_deliveries_at_once_record_one_outcome(
    site: str, redis_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job delivered twice at once (the relay re-sent a message still in flight) fails once:
    the attempt claimed last decides; the earlier one's failure is dropped, not a second letter."""
    monkeypatch.setattr(settings, "task_max_retries", 2)
    SiteHandler.pages["/down-twice"] = (503, "text/plain", b"busy")
    [job_id] = submit(tenant(), NewDocument(url=f"{site}/down-twice"))
    run_jobs([job_id], queue=RecordingQueue())  # attempt 1: retry scheduled
    [earlier] = claim_jobs([job_id])  # attempt 2, still running when...
    queue = RecordingQueue()
    run_jobs([job_id], queue=queue)  # ...attempt 3 runs and fails past the limit: dead
    failure = FetchTransientError("HTTP 503 Service Unavailable")
    finish_failure(earlier, failure, queue)  # attempt 2's own failure arrives late

    job = job_row(job_id)
    assert (earlier.attempts, job.attempts, job.status) == (2, 3, "dead")
    assert queue.sent == []  # no retry scheduled by the late failure
    with session_scope() as session:
        letters = session.scalar(
            select(func.count()).select_from(DeadLetter).where(DeadLetter.job_id == job_id)
        )
    listed = [json.loads(item)["job_id"] for item in redis_client.lrange(DEAD_LETTER_LIST, 0, -1)]
    assert letters == 1 and listed.count(str(job_id)) == 1


def test_dead_letters_survive_a_redis_wipe_and_replay_once(site: str, redis_client) -> None:
    SiteHandler.pages["/down"] = (500, "text/plain", b"boom")
    owner = tenant()
    [job_id] = submit(owner, NewDocument(url=f"{site}/down"))
    for _ in range(settings.task_max_retries + 1):
        run_jobs([job_id], queue=RecordingQueue())
    assert job_row(job_id).status == "dead"

    redis_client.flushdb()  # what a Redis restart without persistence does
    sync_dead_letter_list()
    assert any(str(job_id) in item for item in redis_client.lrange(DEAD_LETTER_LIST, 0, -1))

    queue = RecordingQueue()
    replayed = replay_dead_letters(queue, ReplaySelector(tenant=owner), replayed_by="test:replay")
    assert [letter.job_id for letter in replayed] == [job_id]
    assert queue.job_ids() == [job_id]
    assert job_row(job_id).status == "pending" and job_row(job_id).attempts == 0
    # Re-applying the same replay finds nothing left to replay.
    assert (
        replay_dead_letters(RecordingQueue(), ReplaySelector(tenant=owner), replayed_by="test:replay") == []
    )
    with session_scope() as session:
        letter = session.scalar(select(DeadLetter).where(DeadLetter.job_id == job_id))
        assert letter is not None and letter.replayed_by == "test:replay" and letter.replayed_at is not None
    assert not any(str(job_id) in item for item in redis_client.lrange(DEAD_LETTER_LIST, 0, -1))


def test_outbox_relay_sends_jobs_that_never_reached_the_queue(redis_client) -> None:
    owner = tenant()
    submissions = ingest(FailingQueue(), tenant=owner, documents=[NewDocument(text=f"outbox {uuid.uuid4()}")])
    job_id = submissions[0].job_id
    assert job_row(job_id).enqueued_at is None
    redis_client.set(QUEUE_EPOCH_KEY, "current")
    with session_scope() as session:  # age it past the grace period
        session.execute(
            update(Job).where(Job.id == job_id).values(created_at=utcnow() - timedelta(minutes=5))
        )
    queue = RecordingQueue()
    relay_once(queue)
    assert job_id in queue.job_ids()
    assert job_row(job_id).enqueued_at is not None
    second = RecordingQueue()
    relay_once(second)
    assert job_id not in second.job_ids()  # sent once, not on every cycle


def test_relay_resends_unfinished_jobs_after_a_queue_reset(redis_client) -> None:
    [job_id] = submit(tenant(), NewDocument(text=f"reset {uuid.uuid4()}"))
    assert job_row(job_id).enqueued_at is not None
    redis_client.delete(QUEUE_EPOCH_KEY)  # Redis came back empty
    queue = RecordingQueue()
    relay_once(queue)
    assert job_id in queue.job_ids()
    assert redis_client.exists(QUEUE_EPOCH_KEY)


def test_documents_stored_while_search_is_down_are_reindexed(monkeypatch: pytest.MonkeyPatch) -> None:
    owner = tenant()
    [job_id] = submit(owner, NewDocument(text=f"Search outage story {uuid.uuid4()} in Madrid."))

    class DownSearch:
        name = "down"

        def ensure_ready(self) -> None:
            raise ServiceUnavailable("search", "connection refused")

    monkeypatch.setattr(indexing, "get_search_backend", DownSearch)
    run_jobs([job_id], queue=RecordingQueue())
    document = document_of(job_id)
    assert document.status == "done" and document.indexed_at is None
    assert get_search_backend().search(SearchQuery(tenant=owner, q="Madrid")).total == 0

    monkeypatch.undo()
    while reindex_once():
        pass
    assert document_of(job_id).indexed_at is not None
    assert get_search_backend().search(SearchQuery(tenant=owner, q="Madrid")).total == 1


def test_relay_resends_a_job_running_past_the_hard_limit(redis_client) -> None:
    [job_id] = submit(tenant(), NewDocument(text=f"stuck {uuid.uuid4()}"))
    claim_jobs([job_id])  # its worker died without a trace
    redis_client.set(QUEUE_EPOCH_KEY, "current")
    queue = RecordingQueue()
    relay_once(queue)
    assert job_id not in queue.job_ids()  # still within the time limit: it may be running
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(started_at=utcnow() - timedelta(seconds=settings.task_time_limit + 120))
        )
    relay_once(queue)
    assert job_id in queue.job_ids()
