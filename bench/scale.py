"""Search and insights at scale (issue 14): seed N documents, then time the read API as a user calls it.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--backend postgres|sqlite]
                                    [--repeat 20] [--explain] [--database-url URL]

For each size, the corpus of `scale_seed` (Zipf words, a few entities per document, 90 days of
timestamps, rollups rebuilt) is seeded from zero, into a scratch PostgreSQL database migrated to
head (`--backend postgres`, the default) or into local mode's SQLite file (`--backend sqlite`,
FTS5). Then one API process (uvicorn, the database search backend) answers each query `--repeat`
times in a row, after two warm-up calls; printed per query: wall p50 and p95, the API's CPU per
call, the answer's `total` and `total_relation`, and whether it meets the issue's goal at 1M
documents (search p50 <= 100 ms and p95 <= 250 ms; insights p50 <= 200 ms). After the last size,
the growth factor of each query's p50 between consecutive sizes. `--explain` also prints EXPLAIN
ANALYZE of the search statements the API runs for the common word and the filtered search.
`--database-url` times a PostgreSQL database seeded by an earlier run (or by `scale_seed`) instead:
no seeding, the database is kept, so a change can be measured at 1M without 10 minutes of seeding.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
from harness import bench_api_key, cpu_seconds, scratch_environment
from processes import api_process
from scale_seed import NOW, TENANT, corpus_words, seed_postgres, seed_sqlite

DEFAULT_SIZES = "10000,100000"
SEARCH_GOAL_P50_MS, SEARCH_GOAL_P95_MS, INSIGHTS_GOAL_P50_MS = 100, 250, 200
Params = dict[str, str | int]


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p95_ms: float
    cpu_ms: float
    total: str

    def meets_goal(self, path: str) -> bool:
        if path.startswith("/v1/insights"):
            return self.p50_ms <= INSIGHTS_GOAL_P50_MS
        return self.p50_ms <= SEARCH_GOAL_P50_MS and self.p95_ms <= SEARCH_GOAL_P95_MS


def queries(words: list[str]) -> dict[str, tuple[str, Params]]:
    """The issue's queries. Word rank 3 is in nearly every document, rank 30 in about one in three,
    rank 15,000 in about one in a thousand; ranks 1 and 2 side by side make a phrase that occurs."""
    common, second, rare = words[2], words[29], words[14_999]
    month_ago = (NOW - timedelta(days=30)).isoformat()
    search: dict[str, Params] = {
        "common word": {"q": common},
        "two words": {"q": f"{common} {second}"},
        "phrase": {"q": f'"{words[0]} {words[1]}"'},
        "rare word": {"q": rare},
        # What a user has typed so far of a common word: the last word matches as a prefix.
        "prefix": {"q": common[:4] if len(common) > 4 else common[:3]},
        "word + sentiment + source + 30 days": {
            "q": second, "sentiment": "negative", "source": "rss-world", "from": month_ago,
        },
        "common word, page 50": {"q": common, "offset": 980, "limit": 20},
        "common word, deepest page": {"q": common, "offset": 9_900, "limit": 100},
        "no text, newest": {},
    }  # fmt: skip
    windows: dict[str, Params] = {
        "all time": {},
        "30 days": {"from": month_ago},
        "one source": {"source": "rss-world"},
    }
    return {
        **{f"search: {name}": ("/v1/search", params) for name, params in search.items()},
        **{
            f"insights: {kind}, {window}": (f"/v1/insights/{kind}", params)
            for kind in ("sentiment", "entities")
            for window, params in windows.items()
        },
    }


def time_queries(base_url: str, pid: int, key: str, repeat: int, words: list[str]) -> dict[str, Timing]:
    timings: dict[str, Timing] = {}
    print(f"{'query':48} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>8}  {'goal':4}  total")
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
            body = answer.json()
            total = f"{body['total']:,} ({body.get('total_relation', 'eq')})" if "total" in body else "-"
            timing = Timing(
                statistics.median(walls) * 1e3, walls[min(len(walls) - 1, int(0.95 * len(walls)))] * 1e3,
                cpu * 1e3, total,
            )  # fmt: skip
            timings[name] = timing
            goal = "ok" if timing.meets_goal(path) else "MISS"
            print(
                f"{name:48} {timing.p50_ms:8.1f} {timing.p95_ms:8.1f} {timing.cpu_ms:8.1f}  {goal:4}  {total}"
            )
    return timings


def print_growth(results: dict[int, dict[str, Timing]]) -> None:
    """Each query's p50 at one size over its p50 at the size before: 1.0 is flat, 10 is linear in
    the documents when the sizes are 10x apart."""
    sizes = sorted(results)
    steps = list(itertools.pairwise(sizes))
    if not steps:
        return
    headers = [f"{_short(a)} -> {_short(b)}" for a, b in steps]
    print(f"\ngrowth of p50 ({', '.join(f'{b // a}x the documents' for a, b in steps)})")
    print(f"{'query':48} " + " ".join(f"{h:>16}" for h in headers))
    for name in results[sizes[0]]:
        factors = [results[b][name].p50_ms / max(results[a][name].p50_ms, 1e-6) for a, b in steps]
        print(f"{name:48} " + " ".join(f"{f:15.1f}x" for f in factors))


def _short(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size // 1_000}k" if size % 1_000 == 0 else f"{size:,}"


@contextmanager
def local_environment() -> Iterator[dict[str, str]]:
    """Local mode as a new user gets it: no DATABASE_URL or REDIS_URL, a SQLite file in a temporary
    SIE_DATA_DIR, migrated to head; sets the environment, so call it before `sie` is imported."""
    with tempfile.TemporaryDirectory(prefix="sie-scale-") as data_dir:
        for name in ("DATABASE_URL", "DATABASE_READ_URL", "REDIS_URL", "MEILISEARCH_URL"):
            os.environ.pop(name, None)
        env = {"ENVIRONMENT": "development", "SIE_DATA_DIR": data_dir, "SEARCH_BACKEND": "database"}
        os.environ.update({**env, "LOG_LEVEL": "warning"})
        from sie.core.db import get_engine, migrate
        from sie.core.search.database import DatabaseSearch

        migrate("head")
        DatabaseSearch().ensure_ready()  # the FTS5 table, as the API's first search makes it
        try:
            yield env
        finally:
            get_engine().dispose()


def clear_sqlite() -> None:
    """Empty local mode's tables between sizes (the file and its schema stay)."""
    from sqlalchemy import text

    from sie.core.db import session_scope

    with session_scope() as session:
        for table in ("documents_fts", "jobs", "document_entities", "document_contents", "documents"):
            session.execute(text(f"DELETE FROM {table}"))


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


def seed(backend: str, env: dict[str, str], size: int) -> float:
    print("seeding")
    if backend == "postgres":
        return seed_postgres(env["DATABASE_URL"].replace("+psycopg", ""), size)
    clear_sqlite()
    return seed_sqlite(size)


def seeded_size() -> int:
    """How many documents of the bench tenant an already seeded database holds."""
    from sqlalchemy import func, select

    from sie.core.db import session_scope
    from sie.core.models import Document

    with session_scope() as session:
        return session.execute(select(func.count()).where(Document.tenant == TENANT)).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", "--documents", default=DEFAULT_SIZES, help="comma-separated document counts"
    )
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--database-url", help="an already seeded PostgreSQL database to time (kept)")
    args = parser.parse_args()
    sizes = sorted(int(size.replace("_", "")) for size in args.sizes.split(","))
    if args.database_url:
        environment = scratch_environment(args.database_url)
    else:
        environment = scratch_environment() if args.backend == "postgres" else local_environment()
    results: dict[int, dict[str, Timing]] = {}
    with environment as env:
        words, key = corpus_words(), bench_api_key(TENANT)
        for size in [seeded_size()] if args.database_url else sizes:
            print(f"\n== {size:,} documents, {args.backend} ==")
            if not args.database_url:
                seconds = seed(args.backend, env, size)
                print(f"seeded in {seconds:.0f} s ({size / seconds:,.0f} documents/s)\n")
            with api_process(env) as (base_url, process):
                results[size] = time_queries(base_url, process.pid, key, args.repeat, words)
            if args.explain and args.backend == "postgres":
                explain(words)
    print_growth(results)


if __name__ == "__main__":
    main()
