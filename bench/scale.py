"""Search and insights at scale (issue 14): seed N documents, then time the read API as a user calls it.

    .venv/bin/python bench/scale.py [--documents 1000000] [--repeat 20] [--explain]

Seeds a scratch PostgreSQL database, migrated to head (the real schema), with COPY: documents of
about 150 words drawn from a generated vocabulary with Zipf frequencies (s = 1), a title, one to
four entities from a Zipf-distributed list of names (with their `document_entities` rows), a
sentiment label and compound, one of five sources, and a creation time spread evenly over 90 days
(oldest first, in the order ingest would have written them). Every
document is `done` and indexed, as the pipeline leaves it; jobs are not seeded (search never
reads them). The GIN search index is dropped for the load and built after it, then VACUUM ANALYZE.

Then one API process (uvicorn, the database backend) answers each query `--repeat` times in a
row, after two warm-up calls; printed per query: wall p50 and p95, the API's CPU per call, the
answer's `total` and `total_relation`. `--explain` also prints EXPLAIN ANALYZE of the search
statement the API runs for the common word. The generated corpus needs no data set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import psycopg
from harness import bench_api_key, cpu_seconds, scratch_environment
from processes import api_process

TENANT = "bench"
VOCABULARY = 20_000
WORDS_PER_DOCUMENT = 150
ENTITY_NAMES = 2_000
SOURCES = ("api", "rss-world", "rss-business", "crawler", "upload")
DAYS = 90
CHUNK = 20_000
NOW = datetime.now(UTC).replace(microsecond=0)
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
DOCUMENT_COLUMNS = (
    "id", "tenant", "source", "title", "status", "text", "language", "content_hash", "entities",
    "keywords", "sentiment_compound", "sentiment_label", "extraction", "metadata", "indexed_at",
    "processed_at", "created_at", "updated_at",
)  # fmt: skip
ENTITY_COLUMNS = ("document_id", "tenant", "text", "label", "count", "created_at")


def vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    """Distinct made-up words of 2 to 4 syllables, so no English stop word or stem collides."""
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5))))] = None
    return list(words)


def zipf_probabilities(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


def _copy_rows(values: list[tuple[object, ...]]) -> bytes:
    """COPY's text format; the generated values hold no tab, newline or backslash."""
    return "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in values).encode()


def document_chunks(count: int, seed: int = 14) -> Iterator[tuple[bytes, bytes]]:
    """COPY data for `documents` and `document_entities`, CHUNK documents at a time."""
    rng = np.random.default_rng(seed)
    words = np.array(vocabulary(rng, VOCABULARY))
    first, last = vocabulary(rng, ENTITY_NAMES), vocabulary(rng, ENTITY_NAMES)
    names = [f"{a.capitalize()} {b.capitalize()}" for a, b in zip(first, last, strict=True)]
    word_p, name_p = zipf_probabilities(VOCABULARY), zipf_probabilities(ENTITY_NAMES)
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        tokens = words[rng.choice(VOCABULARY, size=(size, WORDS_PER_DOCUMENT), p=word_p)]
        titles = words[rng.choice(VOCABULARY, size=(size, 8), p=word_p)]
        # Oldest first, as ingest appends them: the table's order follows `created_at`.
        ages = DAYS * 86_400 * (1 - (start + np.arange(size) + rng.uniform(0, 1, size=size)) / count)
        compounds = rng.uniform(-1, 1, size=size)
        documents, entities = [], []
        for i in range(size):
            doc_id, created = uuid.uuid4(), (NOW - timedelta(seconds=float(ages[i]))).isoformat()
            picked = sorted(
                {names[n] for n in rng.choice(ENTITY_NAMES, size=int(rng.integers(1, 5)), p=name_p)}
            )
            text = " ".join(tokens[i]) + ". " + " and ".join(picked) + "."
            label = "positive" if compounds[i] > 0.3 else "negative" if compounds[i] < -0.3 else "neutral"
            documents.append((
                doc_id, TENANT, SOURCES[(start + i) % len(SOURCES)], " ".join(titles[i]).capitalize(), "done",
                text, "en", hashlib.sha256(text.encode()).hexdigest(),
                json.dumps([{"text": e, "label": "PERSON", "count": 1} for e in picked]),
                json.dumps(list(tokens[i][:5])), round(float(compounds[i]), 4), label, "{}", "{}",
                created, created, created, created,
            ))  # fmt: skip
            entities += [(doc_id, TENANT, e, "PERSON", 1, created) for e in picked]
        yield _copy_rows(documents), _copy_rows(entities)


def seed(database_url: str, count: int) -> tuple[list[str], float]:
    """Fill the database; the vocabulary, most frequent first, and the seconds it took."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as connection:
        # Built again after the load, as the migrations define it: far faster than row by row.
        search_index = connection.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_documents_search'"
        ).fetchone()[0]
        connection.execute("DROP INDEX ix_documents_search")
        for number, (documents, entities) in enumerate(document_chunks(count), 1):
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY documents ({', '.join(DOCUMENT_COLUMNS)}) FROM STDIN") as copy:
                    copy.write(documents)
                with cursor.copy(f"COPY document_entities ({', '.join(ENTITY_COLUMNS)}) FROM STDIN") as copy:
                    copy.write(entities)
            print(
                f"  seeded {min(number * CHUNK, count):,} documents ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute(search_index)
        connection.execute("VACUUM ANALYZE")
    return vocabulary(np.random.default_rng(14), VOCABULARY), time.monotonic() - started


def queries(words: list[str]) -> dict[str, tuple[str, dict[str, str | int]]]:
    """The issue's queries; word rank 3 is in nearly every document, rank 15,000 in about one in 200."""
    common, second, rare = words[2], words[29], words[14_999]
    month_ago = (NOW - timedelta(days=30)).isoformat()
    return {
        "search: common word": ("/v1/search", {"q": common}),
        "search: two words": ("/v1/search", {"q": f"{common} {second}"}),
        "search: phrase": ("/v1/search", {"q": f'"{words[0]} {words[1]}"'}),
        "search: rare word": ("/v1/search", {"q": rare}),
        "search: common word, page 50": ("/v1/search", {"q": common, "offset": 980, "limit": 20}),
        "search: word + sentiment + source + 30 days": (
            "/v1/search",
            {"q": second, "sentiment": "negative", "source": "rss-world", "from": month_ago},
        ),
        "search: no text, newest": ("/v1/search", {}),
        "insights: entities": ("/v1/insights/entities", {}),
        "insights: sentiment": ("/v1/insights/sentiment", {}),
    }


def time_queries(base_url: str, pid: int, key: str, repeat: int, words: list[str]) -> None:
    print(f"{'query':46} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>8}  total")
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=600) as client:
        for name, (path, params) in queries(words).items():
            for _ in range(2):
                answer = client.get(path, params=params)
                answer.raise_for_status()
            walls, cpu_before = [], cpu_seconds(pid)
            for _ in range(repeat):
                started = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                walls.append(time.perf_counter() - started)
            cpu = (cpu_seconds(pid) - cpu_before) / repeat
            walls.sort()
            p95 = walls[min(len(walls) - 1, int(0.95 * len(walls)))]
            body = answer.json()
            total = f"{body['total']:,} ({body.get('total_relation', 'eq')})" if "total" in body else "-"
            print(
                f"{name:46} {statistics.median(walls) * 1e3:8.1f} {p95 * 1e3:8.1f} {cpu * 1e3:8.1f}  {total}"
            )


def explain(words: list[str]) -> None:
    """EXPLAIN ANALYZE of what the database backend runs for the common word and the filtered search."""
    from sqlalchemy import func, literal, select, text

    from sie.core.db import get_engine
    from sie.core.search.base import TOTAL_EXACT_UP_TO, SearchQuery
    from sie.core.search.postgres import PostgresFullText

    filtered = {"sentiment": "negative", "source": "rss-world", "date_from": NOW - timedelta(days=30)}
    engine = get_engine()
    for query in (
        SearchQuery(tenant=TENANT, q=words[2]),
        SearchQuery(tenant=TENANT, q=words[29], **filtered),
    ):
        matches = PostgresFullText().matches(query, query.q)
        capped = select(literal(1)).where(*matches.conditions).order_by(*matches.count_order)
        capped = capped.limit(TOTAL_EXACT_UP_TO + 1).subquery()
        for statement in (matches.page, select(func.count()).select_from(capped)):
            sql = statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
            with engine.connect() as connection:
                plan = connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")).scalars()
                print(f"-- {query.q} {query.sentiment or ''}\n" + "\n".join(plan), "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    with scratch_environment() as env:
        print(f"seeding {args.documents:,} documents")
        words, seconds = seed(env["DATABASE_URL"].replace("+psycopg", ""), args.documents)
        print(f"seeded in {seconds:.0f} s ({args.documents / seconds:,.0f} documents/s)\n")
        key = bench_api_key(TENANT)
        with api_process(env) as (base_url, process):
            time_queries(base_url, process.pid, key, args.repeat, words)
        if args.explain:
            explain(words)


if __name__ == "__main__":
    main()
