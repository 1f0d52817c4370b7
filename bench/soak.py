"""Soak: N documents (10,000 by default) through the whole pipeline, watched from first to last.

    .venv/bin/python bench/soak.py [--documents 10000] [--cores 2] [--max-tasks-per-child 100]

API → PostgreSQL → Redis → Celery worker (recycling each pool process after --max-tasks-per-child
tasks, as the handbook suggests) → index. Prints the throughput of every thousand documents (is the
last thousand as fast as the first?), the worker's memory over time (all its processes), and the
end-to-end rate against the raw NLP ceiling of `bench/throughput.py` on the same documents.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from harness import bench_api_key, news_documents, rss_mb, scratch_environment
from processes import api_server, celery_worker, wait_until
from throughput import nlp_ceiling

SAMPLE_SECONDS = 2.0


class Watcher:
    """Samples done-job count and worker RSS every SAMPLE_SECONDS from a thread."""

    def __init__(self, worker_pid: int, baseline: int) -> None:
        self.worker_pid = worker_pid
        self.baseline = baseline
        self.samples: list[tuple[float, int, float]] = []
        self.stop = threading.Event()
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self.samples.append(
                (time.perf_counter() - self.started, done_count() - self.baseline, rss_mb(self.worker_pid))
            )


def done_count() -> int:
    from sqlalchemy import func, select

    from sie.core.db import session_scope
    from sie.core.models import Job

    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) or 0


def per_thousand(samples: list[tuple[float, int, float]], total: int) -> list[tuple[int, float, float]]:
    """For each thousand documents: (thousand, seconds it took, worker RSS when it was done)."""
    rows, previous_at, mark = [], 0.0, 1000
    for at, done, rss in samples:
        while done >= mark and mark <= total:
            rows.append((mark // 1000, at - previous_at, rss))
            previous_at, mark = at, mark + 1000
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--max-tasks-per-child", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100, help="documents per API batch request")
    parser.add_argument("--ceiling-sample", type=int, default=1000, help="documents for the NLP ceiling")
    args = parser.parse_args()

    texts = news_documents(args.documents, seed=23)
    words = sum(len(text.split()) for text in texts) / len(texts)
    print(f"documents: {len(texts)}  average words: {words:.0f}  cores: {args.cores}")
    ceiling = nlp_ceiling(texts[: args.ceiling_sample], args.cores)
    print(f"raw NLP ceiling (spaCy + VADER, {args.cores} processes): {ceiling:.1f} docs/s")

    os.environ["WORKER_MAX_TASKS_PER_CHILD"] = str(args.max_tasks_per_child)
    with scratch_environment():
        import httpx

        key = bench_api_key()
        with (
            api_server() as api_url,
            celery_worker(concurrency=args.cores) as worker,
            httpx.Client(base_url=api_url, timeout=120, headers={"X-API-Key": key}) as client,
        ):
            warm_up = [{"text": f"Warm-up note {i} about Lisbon."} for i in range(args.cores * 16)]
            client.post("/v1/documents/batch", json={"documents": warm_up}).raise_for_status()
            wait_until(lambda: done_count() >= len(warm_up), timeout=300, what="warm-up")
            watcher = Watcher(worker.pid, baseline=done_count())
            rss_start = rss_mb(worker.pid)
            sampler = threading.Thread(target=watcher.run, daemon=True)
            sampler.start()
            for offset in range(0, len(texts), args.batch):
                documents = [{"text": text, "source": "soak"} for text in texts[offset : offset + args.batch]]
                client.post("/v1/documents/batch", json={"documents": documents}).raise_for_status()
            submitted = time.perf_counter() - watcher.started
            wait_until(
                lambda: done_count() - watcher.baseline >= len(texts),
                timeout=6 * 3600,
                interval=1,
                what="every document done",
            )
            elapsed = time.perf_counter() - watcher.started
            watcher.stop.set()
            sampler.join()
            watcher.samples.append((elapsed, len(texts), rss_mb(worker.pid)))

    rows = per_thousand(watcher.samples, len(texts))
    rate = len(texts) / elapsed
    print(f"all {len(texts)} accepted in {submitted:.0f} s; all done after {elapsed:.0f} s")
    print(f"end to end: {rate:.1f} docs/s = {rate * 3600:,.0f} docs/hour")
    print("thousand  seconds  docs/s  worker RSS MiB (all processes)")
    for thousand, seconds, rss in rows:
        print(f"{thousand:>8}  {seconds:>7.1f}  {1000 / seconds:>6.1f}  {rss:>6.0f}")
    if len(rows) >= 2:
        first, last = 1000 / rows[0][1], 1000 / rows[-1][1]
        print(f"first thousand {first:.1f} docs/s, last thousand {last:.1f} docs/s", end="")
        print(f" (last/first {last / first:.2f})")
    rss_values = [rss for _, _, rss in watcher.samples]
    print(
        f"worker RSS MiB: start {rss_start:.0f}, min {min(rss_values):.0f}, max {max(rss_values):.0f}, "
        f"end {rss_values[-1]:.0f} (--max-tasks-per-child {args.max_tasks_per_child})"
    )
    print(f"ratio end-to-end / NLP ceiling: {rate / ceiling:.2f}")


if __name__ == "__main__":
    main()
