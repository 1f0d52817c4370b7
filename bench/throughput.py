"""End-to-end throughput against the raw NLP ceiling.

Pushes N news-like documents (~150 words) through API → PostgreSQL → Redis → Celery worker →
index on this machine and prints docs/hour end to end, next to spaCy + VADER alone on the same
documents with the same number of cores, and the ratio of the two (goal ≥ 0.75).

    .venv/bin/python bench/throughput.py [--documents 2000] [--cores 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

from harness import bench_api_key, news_documents, rss_mb, scratch_environment
from processes import api_server, celery_worker, wait_until


def _enrich_share(texts: list[str]) -> float:
    from sie.core.pipeline.enrich import enrich_batch, load_models

    load_models()
    start = time.perf_counter()
    enrich_batch(texts)
    return time.perf_counter() - start


def nlp_ceiling(texts: list[str], cores: int) -> float:
    """docs/s of spaCy + VADER alone: `cores` processes, models loaded before timing."""
    shares = [texts[i::cores] for i in range(cores)]
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        durations = pool.map(_enrich_share, shares)
    return len(texts) / max(durations)


def end_to_end(texts: list[str], cores: int, batch: int) -> dict[str, float]:
    import httpx
    from sqlalchemy import func, select

    from sie.core.db import session_scope
    from sie.core.models import Job

    key = bench_api_key()
    headers = {"X-API-Key": key}

    def done_count() -> int:
        with session_scope() as session:
            return session.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) or 0

    with (
        api_server() as api_url,
        celery_worker(concurrency=cores) as worker,
        httpx.Client(base_url=api_url, timeout=60, headers=headers) as client,
    ):
        # Warm-up: the worker's processes load their models before the clock starts.
        client.post(
            "/v1/documents/batch", json={"documents": [{"text": f"warm up {i}"} for i in range(cores * 4)]}
        )
        wait_until(lambda: done_count() >= cores * 4, timeout=180, what="warm-up")
        baseline = done_count()
        rss_start = rss_mb(worker.pid)
        start = time.perf_counter()
        for offset in range(0, len(texts), batch):
            response = client.post(
                "/v1/documents/batch",
                json={
                    "documents": [
                        {"text": text, "source": "bench"} for text in texts[offset : offset + batch]
                    ]
                },
            )
            response.raise_for_status()
        submitted = time.perf_counter() - start
        wait_until(lambda: done_count() - baseline >= len(texts), timeout=3600, interval=0.5, what="all done")
        elapsed = time.perf_counter() - start
        rss_end = rss_mb(worker.pid)
    return {"elapsed": elapsed, "submitted": submitted, "rss_start": rss_start, "rss_end": rss_end}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--batch", type=int, default=100, help="documents per API batch request")
    args = parser.parse_args()

    texts = news_documents(args.documents)
    words = sum(len(text.split()) for text in texts) / len(texts)
    print(f"documents: {len(texts)}  average words: {words:.0f}  cores: {args.cores}")

    ceiling = nlp_ceiling(texts, args.cores)
    print(
        f"raw NLP ceiling (spaCy + VADER, {args.cores} processes): "
        f"{ceiling:.1f} docs/s = {ceiling * 3600:,.0f} docs/hour"
    )

    with scratch_environment():
        result = end_to_end(texts, args.cores, args.batch)
    rate = len(texts) / result["elapsed"]
    print(
        f"end to end (API → PostgreSQL → Redis → worker → index): "
        f"{rate:.1f} docs/s = {rate * 3600:,.0f} docs/hour"
    )
    print(
        f"  all {len(texts)} accepted by the API in {result['submitted']:.1f} s; "
        f"all done after {result['elapsed']:.1f} s"
    )
    print(f"  worker RSS: {result['rss_start']:.0f} MiB at start, {result['rss_end']:.0f} MiB at end")
    print(f"ratio end-to-end / ceiling: {rate / ceiling:.2f}  (goal ≥ 0.75)")


if __name__ == "__main__":
    main()
