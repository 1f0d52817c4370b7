"""Month partitions on real PostgreSQL: the migration converts a database that holds data, both ways;
rows land in their month (or DEFAULT, moved out when their month is made); retention drops a whole
expired month and deletes a partly expired one row by row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from sie.core.config import settings
from sie.core.db import session_scope
from sie.core.engine import partitions as engine_partitions
from sie.core.engine.ingest import NewDocument, insert_documents
from sie.core.engine.retention import run_retention
from sie.core.models import (
    DeadLetter,
    Document,
    DocumentBlob,
    DocumentContent,
    DocumentEntity,
    DocumentStatus,
    Job,
    SentimentRollup,
    utcnow,
)
from sie.core.pipeline.fingerprint import content_hash
from sie.core.repository.partitions import ensure_partitions
from sie.core.repository.retention import set_tenant_retention
from tests.test_migrations import alembic
from tests.utils.retention import existing, found, new_tenant, rollups_match_a_rebuild, seed

pytestmark = pytest.mark.usefixtures("services")

BEFORE = "9f3c5e7a2b46"
MONTHS = [datetime(2026, month, 10, 12, tzinfo=UTC) for month in (8, 9, 10)]
COUNTED = ("documents", "document_entities", "jobs", "dead_letters", "document_blobs", "sentiment_rollups")
FAR = (datetime(2031, 1, 15, tzinfo=UTC), datetime(1999, 6, 1, tzinfo=UTC))


@pytest.fixture
def scratch(scratch_database: str) -> Iterator[tuple[str, Engine]]:
    engine = create_engine(scratch_database.replace("postgresql://", "postgresql+psycopg://"))
    yield scratch_database, engine
    engine.dispose()


def _document(tenant: str, created: datetime, word: str) -> Document:
    body = f"The {word} opened. {uuid.uuid4().hex}"
    return Document(
        tenant=tenant,
        title=f"{word} {uuid.uuid4().hex[:6]}",
        text=body,
        content_hash=content_hash(body),
        status=DocumentStatus.done,
        sentiment_label="positive",
        sentiment_compound=0.5,
        created_at=created,
        updated_at=created,
    )


def _fill(engine: Engine, tenant: str) -> list[Document]:
    """Documents over several months, each with entity rows (stamped later, as an older SIE did),
    a job, and for some a dead letter and an upload; rollups as the worker left them."""
    documents = []
    with Session(engine, expire_on_commit=False) as session, session.begin():
        for index, created in enumerate(month + timedelta(days=day) for month in MONTHS for day in (0, 1)):
            document = _document(tenant, created, "harbour")
            session.add(document)
            session.flush()
            job = Job(
                tenant=tenant, document_id=document.id, queue="normal", status="done", created_at=created
            )
            session.add(job)
            session.add(
                DocumentEntity(
                    document_id=document.id,
                    tenant=tenant,
                    text="Lisbon",
                    label="GPE",
                    created_at=created + timedelta(days=40),
                )
            )
            if index % 2:
                session.flush()
                session.add(DocumentBlob(document_id=document.id, data=b"bytes"))
                session.add(
                    DeadLetter(
                        job_id=job.id,
                        tenant=tenant,
                        queue="normal",
                        task="t",
                        error="e",
                        error_kind="k",
                        attempts=3,
                    )
                )
            session.add(
                SentimentRollup(
                    tenant=tenant,
                    day=created.date(),
                    source="api",
                    positive=1,
                    neutral=0,
                    negative=0,
                    unscored=0,
                    scored=1,
                    compound_sum=0.5,
                )
            )
            documents.append(document)
    return documents


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table: connection.scalar(text(f"SELECT count(*) FROM {table}")) for table in COUNTED}


def _partitions(engine: Engine, table: str) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass(:table)"
                ),
                {"table": table},
            )
        )


def _home(engine: Engine, table: str, column: str, value: uuid.UUID) -> str:
    """The partition a row is stored in."""
    with engine.connect() as connection:
        return connection.scalar(
            text(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = :v"), {"v": value}
        )


def _month_names(table: str, months: list[date]) -> set[str]:
    return {f"{table}_p{month:%Y_%m}" for month in months}


def _due_months() -> list[date]:
    month = date(utcnow().year, utcnow().month, 1)
    months = [month]
    for _ in range(2):
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        months.append(month)
    return months


def test_migration_converts_a_database_with_data_and_back(scratch: tuple[str, Engine]) -> None:
    url, engine = scratch
    alembic("upgrade", BEFORE, database_url=url)
    tenant = new_tenant("part")
    documents = _fill(engine, tenant)
    before = _counts(engine)

    alembic("upgrade", "head", database_url=url)
    assert _counts(engine) == before
    held = [date(m.year, m.month, 1) for m in MONTHS]
    for table in ("documents", "document_entities"):
        expected = _month_names(table, held + _due_months()) | {f"{table}_default"}
        assert _partitions(engine, table) == expected
    for document in documents:
        assert _home(engine, "documents", "id", document.id) == f"documents_p{document.created_at:%Y_%m}"
        # Entity rows now carry their document's time, so they share its month.
        assert _home(engine, "document_entities", "document_id", document.id) == (
            f"document_entities_p{document.created_at:%Y_%m}"
        )
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM document_contents")) == len(documents)
        matches = "SELECT count(*) FROM documents WHERE search_vector @@ to_tsquery('english', 'harbour')"
        assert connection.scalar(text(matches)) == len(documents)

    # The real accept statement: content stored before the migration is still a duplicate.
    with engine.begin() as connection:
        duplicate, fresh = insert_documents(
            connection,
            tenant=tenant,
            documents=[NewDocument(text=documents[0].text), NewDocument(text=f"new {uuid.uuid4().hex}")],
        )
    assert duplicate.duplicate and duplicate.document_id == documents[0].id
    assert not fresh.duplicate
    assert _home(engine, "documents", "id", fresh.document_id) == f"documents_p{utcnow():%Y_%m}"

    # Far from any month made ahead: DEFAULT takes the row, and gives it up when its month is made.
    with Session(engine, expire_on_commit=False) as session, session.begin():
        far = [_document(tenant, created, "lighthouse") for created in FAR]
        session.add_all(far)
        session.flush()
        session.add(
            DocumentEntity(
                document_id=far[0].id, tenant=tenant, text="Ada", label="PERSON", created_at=FAR[0]
            )
        )
    assert {_home(engine, "documents", "id", document.id) for document in far} == {"documents_default"}
    with Session(engine) as session, session.begin():
        assert session.get(Document, far[0].id) is not None
        created = ensure_partitions(session=session, now=datetime(2030, 12, 5, tzinfo=UTC))
    assert "documents_p2031_01" in created and "document_entities_p2031_01" in created
    assert _home(engine, "documents", "id", far[0].id) == "documents_p2031_01"
    assert _home(engine, "document_entities", "document_id", far[0].id) == "document_entities_p2031_01"
    assert _home(engine, "documents", "id", far[1].id) == "documents_default"
    after = _counts(engine)
    assert after["documents"] == before["documents"] + 3

    alembic("downgrade", BEFORE, database_url=url)
    assert _counts(engine) == after
    with engine.connect() as connection:
        assert (
            connection.scalar(text("SELECT relkind FROM pg_class WHERE oid = 'documents'::regclass")) == "r"
        )
        assert connection.scalar(text("SELECT to_regclass('uq_documents_tenant_content_hash')")) is not None
        keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = 'documents'::regclass"
        assert connection.scalar(text(keys)) == 4

    alembic("upgrade", "head", database_url=url)
    assert _counts(engine) == after
    assert {"documents_p2031_01", "documents_p1999_06"} <= _partitions(engine, "documents")


def _days_old(moment: datetime) -> float:
    return (utcnow() - moment).total_seconds() / 86400


@pytest.fixture
def retention_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(settings, "retention_days", None)
    monkeypatch.setattr(settings, "archive_url", str(tmp_path))
    monkeypatch.setattr(engine_partitions, "CHUNK", 2)
    return tmp_path


def test_retention_drops_a_fully_expired_month_and_deletes_a_partly_expired_one(
    retention_settings: Path,
) -> None:
    # The months due exist since the migration: the hourly maintenance has nothing to make.
    assert engine_partitions.maintain_partitions() == []
    # Months of their own, made as the scheduler makes them ahead: nothing else lives in 2019.
    with session_scope() as session:
        ensure_partitions(session=session, now=datetime(2019, 1, 2, tzinfo=UTC))
        ensure_partitions(session=session, now=datetime(2019, 4, 2, tzinfo=UTC))
    first, second, keeper = new_tenant(), new_tenant(), new_tenant()
    with session_scope() as session:
        for tenant in (first, second):
            set_tenant_retention(session=session, tenant=tenant, days=30)
    march = [
        seed(tenant, days_old=_days_old(datetime(2019, 3, day, tzinfo=UTC)))
        for tenant in (first, second)
        for day in (3, 20, 31)
    ]
    april_old = [seed(first, days_old=_days_old(datetime(2019, 4, 5, tzinfo=UTC)))]
    april_kept = [seed(first, days_old=_days_old(datetime(2019, 4, 25, tzinfo=UTC)))]
    january_old = [seed(first, days_old=_days_old(datetime(2019, 1, 7, tzinfo=UTC)))]
    january_kept = [seed(keeper, days_old=_days_old(datetime(2019, 1, 8, tzinfo=UTC)))]  # retention off
    with session_scope() as session:
        job = Job(tenant=first, document_id=march[0], queue="normal", status="done")
        session.add(job)
        session.flush()
        session.add(
            DeadLetter(
                job_id=job.id, tenant=first, queue="normal", task="t", error="e", error_kind="k", attempts=3
            )
        )
        session.add(DocumentContent(tenant=first, content_hash=uuid.uuid4().hex, document_id=march[0]))
    assert {_home_here(doc_id) for doc_id in march} == {"documents_p2019_03"}

    # Cutoff 2019-04-15 for both tenants: March has expired for every tenant in it.
    runs = {run.tenant: run for run in run_retention(now=datetime(2019, 5, 15, tzinfo=UTC))}
    assert runs[first].error is None and runs[second].error is None
    assert (runs[first].removed, runs[second].removed) == (3 + 1 + 1, 3)
    assert (runs[first].archived, runs[second].archived) == (3 + 1 + 1, 3)
    assert any("/2019-03/" in part for part in runs[first].parts)

    with session_scope() as session:
        names = set(session.scalars(text("SELECT relname FROM pg_class WHERE relname LIKE '%\\_p2019\\_0_'")))
        assert {"documents_p2019_01", "documents_p2019_04"} <= names
        assert not {"documents_p2019_03", "document_entities_p2019_03"} & names
        for model in (Job, DocumentContent):
            assert session.scalar(select(func.count()).where(model.document_id.in_(march))) == 0
        assert (
            session.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.job_id == job.id))
            == 0
        )
    assert existing(march + april_old + january_old) == set()
    assert existing(april_kept + january_kept) == set(april_kept + january_kept)
    assert found(first) == set(april_kept) and found(second) == set()
    assert found(keeper) == set(january_kept)
    for tenant in (first, second, keeper):
        assert rollups_match_a_rebuild(tenant)
    # A whole month, archived and gone from the rollups: its days are not counted anywhere.
    with session_scope() as session:
        march_days = select(func.count()).where(
            SentimentRollup.day >= date(2019, 3, 1), SentimentRollup.day < date(2019, 4, 1)
        )
        assert session.scalar(march_days) == 0
    assert retention_settings.joinpath(first).is_dir()


def _home_here(doc_id: uuid.UUID) -> str:
    with session_scope() as session:
        return session.scalar(
            text("SELECT tableoid::regclass::text FROM documents WHERE id = :id"), {"id": doc_id}
        )
