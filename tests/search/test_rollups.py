"""The daily rollups (issue 14 §2) equal a from-scratch aggregation of the documents, whatever mix of
ingest, reprocess and delete came before; the insights endpoints answer from them as they did from
the documents; `rebuild_rollups` and `sie insights rebuild` repair them; the migration fills them.

Ingest and reprocess go through the worker's real store path (`store_each`, after the real accept
and claim), with made-up enrichments instead of the NLP models: what the rollups see is what the
store writes. The reference aggregation is plain Python over the `documents` and
`document_entities` rows. `OPERATIONS` is the table the random runs draw from: retention joins it
as one more entry.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import column as sa_column
from sqlalchemy import create_engine, delete, event, select, update
from sqlalchemy import table as sa_table
from sqlalchemy.orm import Session, sessionmaker

from sie.core.db import session_scope
from sie.core.engine.ingest import NewDocument, ingest
from sie.core.engine.jobs import store as store_module
from sie.core.engine.jobs.claim import claim_jobs
from sie.core.engine.jobs.store import Enriched, store_each
from sie.core.engine.retention import run_retention
from sie.core.models import (
    Base,
    Document,
    DocumentEntity,
    DocumentStatus,
    EntityDayRollup,
    EntityRollup,
    Job,
    SentimentRollup,
)
from sie.core.pipeline.types import Enrichment, Entity, ExtractedText, Sentiment
from sie.core.repository.insights import InsightWindow, entities_by_day, sentiment_by_day
from sie.core.repository.removal import remove_documents
from sie.core.repository.retention import set_tenant_retention
from sie.core.repository.rollups import add_documents, rebuild_rollups
from tests.utils.api import make_key
from tests.utils.cli import sie
from tests.worker.test_job_runner import RecordingQueue

if TYPE_CHECKING:  # imported by name, pytest would try to collect the class as tests
    from tests.utils.api import TestKey

Scope = Callable[[], AbstractContextManager[Session]]
NAMES = [("Apple", "ORG"), ("Berlin", "GPE"), ("Cook", "PERSON"), ("Paris", "GPE"), ("Paris", "LOC")]
SOURCES = ("api", "rss-world", "upload")
LABELS = ("positive", "neutral", "negative", None)
# Around UTC midnights, and in other offsets: the day is the UTC day.
MOMENTS = [
    datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
    datetime(2026, 11, 21, 22, 30, tzinfo=timezone(timedelta(hours=-5))),  # 22 November, 03:30 UTC
    datetime(2026, 11, 23, 0, 30, tzinfo=timezone(timedelta(hours=2))),  # 22 November, 22:30 UTC
]
SENTIMENT_FIELDS = ("positive", "neutral", "negative", "unscored", "scored", "compound_sum")


# --- the reference: plain Python over the documents ------------------------------------------------------


@dataclass
class Reference:
    sentiment: dict[tuple[date, str], dict[str, float]] = field(default_factory=dict)
    entities: dict[tuple[date, str, str, str], dict[str, Any]] = field(default_factory=dict)


def reference(session: Session, tenant: str) -> Reference:
    documents = session.execute(
        select(
            Document.id,
            Document.source,
            Document.status,
            Document.created_at,
            Document.sentiment_label,
            Document.sentiment_compound,
        ).where(Document.tenant == tenant, Document.status == DocumentStatus.done)
    ).all()
    done = {row.id: row for row in documents}
    result = Reference()
    for row in documents:
        counts = result.sentiment.setdefault(
            (row.created_at.astimezone(UTC).date(), row.source), dict.fromkeys(SENTIMENT_FIELDS, 0)
        )
        counts[row.sentiment_label or "unscored"] += 1
        if row.sentiment_compound is not None:
            counts["scored"] += 1
            counts["compound_sum"] += row.sentiment_compound
    entity_rows = session.execute(
        select(DocumentEntity.document_id, DocumentEntity.text, DocumentEntity.label, DocumentEntity.count)
    ).all()
    for document_id, text, label, count in entity_rows:
        if document_id not in done:
            continue
        row = done[document_id]
        entry = result.entities.setdefault(
            (row.created_at.astimezone(UTC).date(), row.source, text, label), {"ids": set(), "mentions": 0}
        )
        entry["ids"].add(document_id)
        entry["mentions"] += count
    return result


def assert_rollups_match(scope: Scope, tenant: str) -> None:
    with scope() as session:
        expected = reference(session, tenant)
        sentiment = {
            (row.day, row.source): {name: getattr(row, name) for name in SENTIMENT_FIELDS}
            for row in session.scalars(select(SentimentRollup).where(SentimentRollup.tenant == tenant))
        }
        entities = {
            (row.day, row.source, row.text, row.label): (row.documents, row.mentions)
            for row in session.scalars(select(EntityRollup).where(EntityRollup.tenant == tenant))
        }
        entity_days = {
            (row.day, row.text, row.label): (row.documents, row.mentions)
            for row in session.scalars(select(EntityDayRollup).where(EntityDayRollup.tenant == tenant))
        }
    assert set(sentiment) == set(expected.sentiment)
    for key, counts in expected.sentiment.items():
        assert sentiment[key] == pytest.approx(counts), key
    assert entities == {
        key: (len(entry["ids"]), entry["mentions"]) for key, entry in expected.entities.items()
    }
    all_sources: dict[tuple[date, str, str], list[int]] = {}
    for (day, _, text, label), entry in expected.entities.items():
        counts = all_sources.setdefault((day, text, label), [0, 0])
        counts[0] += len(entry["ids"])
        counts[1] += entry["mentions"]
    assert entity_days == {key: tuple(counts) for key, counts in all_sources.items()}


def assert_insights_match(scope: Scope, window: InsightWindow) -> None:
    """Both endpoints' answers, computed here from the reference for the window's whole UTC days."""
    with scope() as session:
        expected = reference(session, window.tenant)
        sentiment = sentiment_by_day(session=session, window=window)
        entities = entities_by_day(session=session, window=window, top=3, per_day=2)
    first, end = window.first_day(), window.end_day()

    def inside(day: date, source: str) -> bool:
        return (
            (window.source is None or source == window.source)
            and (first is None or day >= first)
            and (end is None or day < end)
        )

    days: dict[date, dict[str, float]] = {}
    for (day, source), counts in expected.sentiment.items():
        if inside(day, source):
            total = days.setdefault(day, dict.fromkeys(SENTIMENT_FIELDS, 0))
            for name in SENTIMENT_FIELDS:
                total[name] += counts[name]
    buckets = [
        {
            "day": str(day),
            **{name: int(counts[name]) for name in ("positive", "neutral", "negative", "unscored")},
            # Floating sums: an average half-way between two 4-decimal values may round either way.
            "average_compound": pytest.approx(counts["compound_sum"] / counts["scored"], abs=0.51e-4)
            if counts["scored"]
            else None,
        }
        for day, counts in sorted(days.items())
    ]
    assert sentiment["buckets"] == buckets
    assert sentiment["totals"] == {
        name: sum(bucket[name] for bucket in buckets)
        for name in ("positive", "neutral", "negative", "unscored")
    }

    per_day: dict[date, dict[tuple[str, str], list[int]]] = {}
    for (day, source, text, label), entry in expected.entities.items():
        if inside(day, source):
            counts = per_day.setdefault(day, {}).setdefault((text, label), [0, 0])
            counts[0] += len(entry["ids"])
            counts[1] += entry["mentions"]

    def ranked(counts: dict[tuple[str, str], list[int]]) -> list[dict[str, Any]]:
        order = sorted(counts.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [{"text": t, "label": lb, "documents": d, "mentions": m} for (t, lb), (d, m) in order]

    overall: dict[tuple[str, str], list[int]] = {}
    for counts in per_day.values():
        for key, (documents, mentions) in counts.items():
            total = overall.setdefault(key, [0, 0])
            total[0] += documents
            total[1] += mentions
    assert entities["top"] == ranked(overall)[:3]
    assert entities["buckets"] == [
        {"day": str(day), "entities": ranked(counts)[:2]} for day, counts in sorted(per_day.items())
    ]


# --- PostgreSQL: the real store and delete paths --------------------------------------------------------


@dataclass
class World:
    tenant: str
    rng: random.Random
    client: TestClient
    key: TestKey
    queue: RecordingQueue = field(default_factory=RecordingQueue)
    live: list[uuid.UUID] = field(default_factory=list)

    def pick(self, most: int) -> list[uuid.UUID]:
        return self.rng.sample(self.live, min(len(self.live), self.rng.randint(1, most)))


def random_enrichment(rng: random.Random) -> Enrichment:
    # The same entity twice in one document is possible (two spellings cut to one text): one document.
    entities = [
        Entity(text, label, rng.randint(1, 4)) for text, label in rng.choices(NAMES, k=rng.randint(0, 4))
    ]
    label = rng.choice(LABELS)
    sentiment = Sentiment(round(rng.uniform(-1, 1), 4), label) if label else None
    return Enrichment(entities=entities, sentiment=sentiment, language="en")


def store(world: World, texts: dict[uuid.UUID, str]) -> None:
    """Claim the documents' jobs and store made-up results through the worker's store path."""
    with session_scope() as session:
        jobs = dict(
            session.execute(select(Job.document_id, Job.id).where(Job.document_id.in_(list(texts)))).all()
        )
    batch = [
        Enriched(
            job,
            ExtractedText(text=texts[job.document_id], content_type="text/plain"),
            random_enrichment(world.rng),
        )
        for job in claim_jobs(list(jobs.values()))
    ]
    store_each(batch, world.queue)


def op_ingest(world: World) -> None:
    new = [
        NewDocument(text=f"words {uuid.uuid4().hex}", source=world.rng.choice(SOURCES))
        for _ in range(world.rng.randint(1, 4))
    ]
    submissions = ingest(world.queue, tenant=world.tenant, documents=new)
    with session_scope() as session:
        for submission in submissions:
            moment = world.rng.choice(MOMENTS)
            session.execute(
                update(Document).where(Document.id == submission.document_id).values(created_at=moment)
            )
    store(world, {s.document_id: d.text for s, d in zip(submissions, new, strict=True)})  # type: ignore[misc]
    world.live += [submission.document_id for submission in submissions]


def op_reprocess(world: World) -> None:
    """Run stored jobs again: new entities and sentiment, or another document's text (a duplicate)."""
    chosen = world.pick(3)
    if not chosen:
        return
    with session_scope() as session:
        texts = dict(
            session.execute(select(Document.id, Document.text).where(Document.id.in_(world.live))).all()
        )
        session.execute(update(Job).where(Job.document_id.in_(chosen)).values(status="pending"))
    store(
        world,
        {doc: texts[world.rng.choice(world.live) if world.rng.random() < 0.3 else doc] for doc in chosen},
    )


def op_remove(world: World) -> None:
    chosen = world.pick(3)
    with session_scope() as session:
        assert remove_documents(session=session, ids=[*chosen, uuid.uuid4()]) == len(chosen)
    world.live = [doc for doc in world.live if doc not in chosen]


def op_delete_route(world: World) -> None:
    chosen = world.pick(1)
    if not chosen:
        return
    [document_id] = chosen
    assert world.client.delete(f"/v1/documents/{document_id}", headers=world.key.headers).status_code == 204
    assert world.client.get(f"/v1/documents/{document_id}", headers=world.key.headers).status_code == 404
    world.live.remove(document_id)


def op_retention(world: World) -> None:
    """The tenant keeps one day; retention runs a day after a random moment: what is older goes."""
    with session_scope() as session:
        set_tenant_retention(session=session, tenant=world.tenant, days=1)
    [run] = run_retention(tenant=world.tenant, now=world.rng.choice(MOMENTS) + timedelta(days=1))
    assert run.error is None
    with session_scope() as session:
        kept = set(session.scalars(select(Document.id).where(Document.id.in_(world.live))))
    world.live = [doc for doc in world.live if doc in kept]


# What the random runs draw from, with weights: one more operation (retention) is one more entry.
OPERATIONS: dict[str, tuple[Callable[[World], None], int]] = {
    "ingest": (op_ingest, 4),
    "reprocess": (op_reprocess, 3),
    "remove": (op_remove, 2),
    "delete route": (op_delete_route, 1),
    "retention": (op_retention, 1),
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    from sie_api.main import app

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, request: pytest.FixtureRequest) -> World:
    key = make_key()
    return World(key.tenant, random.Random(getattr(request, "param", 0)), client, key)


@pytest.mark.parametrize("world", [1, 2, 3], indirect=True)
def test_rollups_equal_a_fresh_aggregation_after_every_step(world: World) -> None:
    names = list(OPERATIONS)
    weights = [OPERATIONS[name][1] for name in names]
    done: list[str] = []
    for _ in range(35):
        name = world.rng.choices(names, weights)[0]
        OPERATIONS[name][0](world)
        done.append(name)
        assert_rollups_match(session_scope, world.tenant)
    assert set(done) == set(OPERATIONS)
    assert_insights_match(session_scope, InsightWindow(world.tenant))
    # A window inside days: the whole UTC days it touches (21 and 22 November here).
    middle = InsightWindow(
        world.tenant, None, datetime(2026, 11, 21, 6, tzinfo=UTC), datetime(2026, 11, 22, 1, tzinfo=UTC)
    )
    assert (middle.first_day(), middle.end_day()) == (date(2026, 11, 21), date(2026, 11, 23))
    assert_insights_match(session_scope, middle)
    assert_insights_match(
        session_scope, InsightWindow(world.tenant, "api", None, datetime(2026, 11, 22, tzinfo=UTC))
    )


def test_a_duplicate_leaves_the_rollups_and_a_reprocess_replaces_its_share(world: World) -> None:
    op_ingest(world)
    first = world.live[0]
    with session_scope() as session:
        before = session.scalar(select(Document.text).where(Document.id == first))
    op_ingest(world)
    other = world.live[-1]
    # The other document, run again with the first one's text, becomes its duplicate.
    with session_scope() as session:
        session.execute(update(Job).where(Job.document_id == other).values(status="pending"))
    store(world, {other: before or ""})
    with session_scope() as session:
        assert session.scalar(select(Document.status).where(Document.id == other)) == DocumentStatus.duplicate
    assert_rollups_match(session_scope, world.tenant)


def test_concurrent_batches_neither_lose_counts_nor_deadlock(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four workers store batches at once, all naming the same entities on the same days and
    sources: every increment lands, and no batch fails (a deadlock would, before its jobs were stored one
    by one)."""
    failures: list[BaseException] = []

    def recorded(batch: list[Enriched]) -> Any:
        try:
            return real_store_batch(batch)
        except Exception as exc:
            failures.append(exc)
            raise

    real_store_batch = store_module._store_batch
    monkeypatch.setattr(store_module, "_store_batch", recorded)
    new = [NewDocument(text=f"words {uuid.uuid4().hex}", source=world.rng.choice(SOURCES)) for _ in range(64)]
    submissions = ingest(world.queue, tenant=world.tenant, documents=new)
    with session_scope() as session:
        for submission in submissions:  # Rows of several days and sources, shared by every batch.
            moment = world.rng.choice(MOMENTS)
            session.execute(
                update(Document).where(Document.id == submission.document_id).values(created_at=moment)
            )
    texts = {s.job_id: d.text or "" for s, d in zip(submissions, new, strict=True)}
    batches = [list(texts)[start::4] for start in range(4)]
    barrier = threading.Barrier(len(batches))

    def work(job_ids: list[uuid.UUID], seed: int) -> None:
        rng = random.Random(seed)
        claimed = claim_jobs(job_ids)
        enriched = [
            Enriched(
                job,
                ExtractedText(text=texts[job.job_id], content_type="text/plain"),
                Enrichment(entities=[Entity(t, lb, 1) for t, lb in rng.sample(NAMES, len(NAMES))]),
            )
            for job in claimed
        ]
        barrier.wait()
        store_each(enriched, world.queue)

    threads = [threading.Thread(target=work, args=(batch, n)) for n, batch in enumerate(batches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope() as session:
        statuses = session.scalars(select(Job.status).where(Job.id.in_(list(texts)))).all()
    assert statuses == ["done"] * len(texts)
    assert failures == []
    assert_rollups_match(session_scope, world.tenant)


def test_rebuild_repairs_corrupted_rollups_of_one_tenant_only(world: World) -> None:
    for _ in range(4):
        op_ingest(world)
    bystander = World(make_key().tenant, random.Random(7), world.client, world.key)
    op_ingest(bystander)
    with session_scope() as session:
        session.execute(
            update(SentimentRollup).where(SentimentRollup.tenant == world.tenant).values(positive=99)
        )
        session.execute(
            delete(EntityRollup).where(EntityRollup.tenant == world.tenant, EntityRollup.text == "Apple")
        )
        session.add(
            EntityRollup(
                tenant=world.tenant,
                day=date(2020, 1, 1),
                source="api",
                text="X",
                label="ORG",
                documents=3,
                mentions=3,
            )
        )
        session.execute(
            update(EntityDayRollup).where(EntityDayRollup.tenant == world.tenant).values(mentions=1000)
        )
        # The bystander's rollups are wrong too; a rebuild of the first tenant leaves them so.
        session.execute(
            update(SentimentRollup).where(SentimentRollup.tenant == bystander.tenant).values(neutral=50)
        )
    with session_scope() as session:
        rebuild_rollups(session=session, tenant=world.tenant)
    assert_rollups_match(session_scope, world.tenant)
    with pytest.raises(AssertionError):
        assert_rollups_match(session_scope, bystander.tenant)
    with session_scope() as session:
        rebuild_rollups(session=session)
        rebuild_rollups(session=session)  # idempotent
    assert_rollups_match(session_scope, bystander.tenant)
    assert_rollups_match(session_scope, world.tenant)


def test_sie_insights_rebuild(world: World) -> None:
    op_ingest(world)
    op_ingest(world)
    with session_scope() as session:
        session.execute(delete(SentimentRollup).where(SentimentRollup.tenant == world.tenant))
    result = sie("insights", "rebuild", "--tenant", world.tenant)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"rollups rebuilt for tenant {world.tenant}"
    assert_rollups_match(session_scope, world.tenant)


def test_the_delete_route_is_tenant_scoped(world: World) -> None:
    op_ingest(world)
    document_id = world.live[0]
    stranger = make_key()
    url = f"/v1/documents/{document_id}"
    assert world.client.delete(url, headers=stranger.headers).status_code == 404
    reader = make_key(world.tenant, scopes=("read",))
    assert world.client.delete(url, headers=reader.headers).status_code == 403
    assert world.client.delete(url, headers=world.key.headers).status_code == 204
    assert world.client.delete(url, headers=world.key.headers).status_code == 404
    with session_scope() as session:
        assert session.scalar(select(Job.id).where(Job.document_id == document_id)) is None
    assert_rollups_match(session_scope, world.tenant)


# --- SQLite (local mode): the same upserts, removal, rebuild and reads ----------------------------------


@pytest.fixture
def sqlite_scope(tmp_path: Path) -> Iterator[Scope]:
    engine = create_engine(f"sqlite:///{tmp_path / 'sie.db'}")
    event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA foreign_keys=ON"))
    Base.metadata.create_all(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def scope() -> Iterator[Session]:
        with sessions.begin() as session:
            yield session

    yield scope
    engine.dispose()


def _sqlite_document(rng: random.Random, session: Session, document: Document) -> None:
    """Give a document a random result: status, sentiment and entity rows (replacing any)."""
    document.status = rng.choice(
        [DocumentStatus.done, DocumentStatus.done, DocumentStatus.failed, DocumentStatus.duplicate]
    )
    sentiment = rng.choice(LABELS)
    document.sentiment_label = sentiment
    document.sentiment_compound = round(rng.uniform(-1, 1), 4) if sentiment else None
    session.execute(delete(DocumentEntity).where(DocumentEntity.document_id == document.id))
    session.add_all(
        DocumentEntity(
            document_id=document.id, tenant=document.tenant, text=text, label=label, count=rng.randint(1, 3)
        )
        for text, label in rng.choices(NAMES, k=rng.randint(0, 3))
    )
    session.flush()


def test_sqlite_rollups_follow_adds_reprocesses_and_removals(sqlite_scope: Scope) -> None:
    rng, tenant, live = random.Random(5), "local", []
    for step in range(40):
        action = rng.choice(["add", "add", "reprocess", "remove"])
        with sqlite_scope() as session:
            if action == "add":
                document = Document(
                    tenant=tenant,
                    source=rng.choice(SOURCES),
                    text=f"text {step}",
                    created_at=rng.choice([m.astimezone(UTC) for m in MOMENTS]),
                )
                session.add(document)
                session.flush()
                _sqlite_document(rng, session, document)
                add_documents(session=session, documents=[document])
                live.append(document.id)
            elif action == "reprocess" and live:
                document = session.get_one(Document, rng.choice(live))
                add_documents(session=session, documents=[document], sign=-1)
                _sqlite_document(rng, session, document)
                add_documents(session=session, documents=[document])
            elif action == "remove" and live:
                chosen = rng.sample(live, min(len(live), 2))
                assert remove_documents(session=session, ids=chosen) == len(chosen)
                live = [doc for doc in live if doc not in chosen]
        assert_rollups_match(sqlite_scope, tenant)
    assert_insights_match(sqlite_scope, InsightWindow(tenant))
    assert_insights_match(sqlite_scope, InsightWindow(tenant, "api", datetime(2026, 11, 20, 12, tzinfo=UTC)))
    with sqlite_scope() as session:
        session.execute(update(EntityRollup).values(mentions=0))
    with sqlite_scope() as session:
        rebuild_rollups(session=session)
    assert_rollups_match(sqlite_scope, tenant)


# --- the migration fills them from the documents already stored ----------------------------------------


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_the_migration_fills_the_rollups_from_stored_documents(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from tests.test_migrations import alembic

    if backend == "postgresql":
        url = request.getfixturevalue("scratch_database")
        engine_url = url.replace("postgresql://", "postgresql+psycopg://")
    else:
        url = engine_url = f"sqlite:///{tmp_path / 'local.db'}"
    alembic("upgrade", "7c4f1a9e2b60", database_url=url)
    engine = create_engine(engine_url)
    rng, now = random.Random(11), datetime(2026, 11, 30, tzinfo=UTC)
    documents = sa_table(
        "documents",
        *(
            sa_column(name)
            for name in ("id", "tenant", "source", "status", "sentiment_label", "sentiment_compound")
        ),
        *(
            sa_column(name)
            for name in ("entities", "keywords", "extraction", "metadata", "created_at", "updated_at")
        ),
    )
    entities = sa_table(
        "document_entities",
        *(sa_column(n) for n in ("document_id", "tenant", "text", "label", "count", "created_at")),
    )
    with engine.begin() as connection:
        for _ in range(30):
            document_id, label = uuid.uuid4(), rng.choice(LABELS)
            created = rng.choice(MOMENTS).astimezone(UTC)  # SQLite keeps the clock time it is given
            connection.execute(
                documents.insert().values(
                    id=document_id if backend == "postgresql" else document_id.hex,
                    tenant=rng.choice(["a", "b"]),
                    source=rng.choice(SOURCES),
                    status=rng.choice([DocumentStatus.done, DocumentStatus.done, DocumentStatus.failed]),
                    sentiment_label=label,
                    sentiment_compound=round(rng.uniform(-1, 1), 4) if label else None,
                    entities="[]",
                    keywords="[]",
                    extraction="{}",
                    metadata="{}",
                    created_at=created
                    if backend == "postgresql"
                    else created.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    updated_at=now if backend == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f"),
                )
            )
            for text, entity_label in rng.choices(NAMES, k=rng.randint(0, 3)):
                connection.execute(
                    entities.insert().values(
                        document_id=document_id if backend == "postgresql" else document_id.hex,
                        tenant="x",
                        text=text,
                        label=entity_label,
                        count=rng.randint(1, 3),
                        created_at=created
                        if backend == "postgresql"
                        else created.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    )
                )
    alembic("upgrade", "8e2b4d6f1a35", database_url=url)
    sessions = sessionmaker(bind=engine)

    @contextmanager
    def scope() -> Iterator[Session]:
        with sessions.begin() as session:
            yield session

    for tenant in ("a", "b"):
        assert_rollups_match(scope, tenant)
    alembic("downgrade", "7c4f1a9e2b60", database_url=url)
    engine.dispose()
