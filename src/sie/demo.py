"""`sie demo`: the whole pipeline on the bundled sample corpus, on embedded defaults only.

Settings are parsed once, at import, so the demo runs in a process of its own whose environment
names no external service (no `DATABASE_URL`, `REDIS_URL`, `MEILISEARCH_URL`, `SENTRY_DSN`) and
whose working directory is the demo's data directory, so no project `.env` can point it elsewhere.
There it migrates a fresh SQLite database, creates a demo API key, pushes the corpus through the
real API in-process (FastAPI's TestClient: authentication, validation, rate limiting and the
in-process queue all run), waits for every job, and prints what happened. `--serve` then keeps
the API serving on 127.0.0.1.

The corpus (`sie/samples/`): news articles (`news/*.txt`, one of them a deliberately re-wrapped
copy of another, which must end as a duplicate), web pages (`pages/*.html`, with navigation,
cookie banners and scripts that extraction must drop), an RSS and an Atom feed (`feeds/*.xml`)
whose items become documents, and images (`images/`) when present and the OCR extra is installed.

Exit status: 0 when every document ended `done` or `duplicate`; 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, cast

import httpx
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sie.core import metrics
from sie.core.config import settings
from sie.core.db import migrate, session_scope
from sie.core.engine.queue import InProcessQueue, get_job_queue
from sie.core.logging import configure_logging
from sie.core.security import ALL_SCOPES, create_api_key
from sie.ingest_client import IngestReport, Inputs, RemoteSender, collect_inputs, push

DEMO_TENANT = "demo"
DEFAULT_DATA_DIR = Path(".sie/demo")
DEFAULT_QUERY = "solar"
DEFAULT_PORT = 8000
SERVE_HOST = "127.0.0.1"
TEXT_SAMPLE_FOLDERS = ("news", "pages", "feeds")
IMAGE_SAMPLE_FOLDER = "images"
# The whole corpus goes in at once; the handbook's default (30 a minute) would throttle the demo.
DEMO_RATE_LIMITS = {priority: {"requests": 10_000, "period": 60} for priority in ("low", "normal", "high")}
# Settings the demo never takes from the caller: they would point it at external services.
EXTERNAL_SETTINGS = frozenset(
    {
        "DATABASE_URL",
        "REDIS_URL",
        "MEILISEARCH_URL",
        "MEILISEARCH_KEY",
        "SEARCH_BACKEND",
        "SENTRY_DSN",
        "API_SECRET_KEY",
        "ENVIRONMENT",
        "SIE_DATA_DIR",
        "PROMETHEUS_MULTIPROC_DIR",
    }
)
PIPELINE_STAGES = ("fetch", "extract", "ocr", "nlp", "store", "index", "total")
FINISHED_DOCUMENT_STATUSES = frozenset({"done", "duplicate"})
# Who, which organisations and where: dates and numbers are entities too, but say little here.
NAMED_ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP"})
TOP_ENTITIES_SHOWN = 10
_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    serve: bool
    port: int
    query: str
    timeout: float


def parse_options(argv: Sequence[str] | None) -> DemoOptions:
    parser = argparse.ArgumentParser(
        prog="sie demo",
        description="Ingest the bundled sample corpus through the whole pipeline on embedded defaults "
        "(SQLite, in-process queue, built-in search) and report what happened.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the demo keeps its SQLite database; emptied at start (default: %(default)s)",
    )
    parser.add_argument(
        "--serve", action="store_true", help=f"keep serving the API on {SERVE_HOST} afterwards"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port for --serve (default: %(default)s)"
    )
    parser.add_argument("--query", default=DEFAULT_QUERY, help="the search to show (default: %(default)s)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the jobs (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    return DemoOptions(
        data_dir=args.data_dir.resolve(),
        serve=args.serve,
        port=args.port,
        query=args.query,
        timeout=args.timeout,
    )


def local_environment(environ: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """`environ` without external services, set for local mode in `data_dir` (idempotent)."""
    # Settings read variable names case-insensitively, so `database_url` must go too.
    env = {name: value for name, value in environ.items() if name.upper() not in EXTERNAL_SETTINGS}
    env.update({"ENVIRONMENT": "development", "SEARCH_BACKEND": "database", "SIE_DATA_DIR": str(data_dir)})
    # Job logs go to stderr as JSON; keep them to warnings unless the caller asked for more.
    if not any(name.upper() == "LOG_LEVEL" for name in env):
        env["LOG_LEVEL"] = "warning"
    return env


def main(argv: Sequence[str] | None = None) -> int:
    """`sie demo` / `python -m sie.demo`: run here if this process is already clean, else in a clean child."""
    options = parse_options(argv)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    environment = local_environment(os.environ, options.data_dir)
    if dict(os.environ) == environment and Path.cwd() == options.data_dir:
        return run_demo(options)
    command = [sys.executable, "-m", "sie.demo", *(argv or []), "--data-dir", str(options.data_dir)]
    with subprocess.Popen(command, env=environment, cwd=options.data_dir) as child:  # noqa: S603
        try:
            return child.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached the child as well (same process group): let it shut down cleanly.
            return child.wait()


def run_demo(options: DemoOptions) -> int:
    console = Console()
    if not settings.local_mode or settings.database_url or settings.meilisearch_url:
        console.print("[red]sie demo runs on embedded defaults only; start it with `sie demo`[/red]")
        return 2
    configure_logging(settings.log_level)
    for name in ("sie.db", "sie.db-wal", "sie.db-shm"):
        (options.data_dir / name).unlink(missing_ok=True)
    started = time.perf_counter()
    migrate("head")
    api_key = _create_demo_key()
    inputs, image_note = corpus_inputs()
    console.print(
        Panel.fit(
            f"SIE demo: local mode, embedded defaults\n"
            f"database  SQLite at {options.data_dir / 'sie.db'}\n"
            f"queue     {get_job_queue().name} (a thread pool in this process)\n"
            f"search    built-in ({settings.effective_search_backend}, SQLite FTS5)\n"
            f"corpus    {inputs.total} documents from {_samples_dir()}",
            title="SIE demo",
        )
    )
    # Starlette warns that its TestClient will move to another HTTP library; nothing to act on here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from sie_api.main import app

    with TestClient(app, headers={"X-API-Key": api_key}) as client:
        report = push(inputs, RemoteSender(client))
        # Local mode (checked above) always runs jobs on the in-process queue.
        finished = cast(InProcessQueue, get_job_queue()).join(options.timeout)
        elapsed = time.perf_counter() - started
        results = _collect_results(client, report, options.query)
    print_report(console, report, results, elapsed=elapsed, image_note=image_note, query=options.query)
    if not finished:
        console.print(f"[red]jobs were still running after {options.timeout:.0f} s[/red]")
    exit_code = 0 if finished and not results.problems and not report.rejected else 1
    console.print(f"demo finished in {elapsed:.1f} s: exit status {exit_code}")
    if options.serve:
        _serve(console, app, api_key, options)
    return exit_code


def _create_demo_key() -> str:
    with session_scope() as session:
        _, plain = create_api_key(
            session, tenant=DEMO_TENANT, name="sie demo", scopes=ALL_SCOPES, rate_limits=DEMO_RATE_LIMITS
        )
    return plain


def _samples_dir() -> Path:
    return Path(str(files("sie") / "samples"))


def ocr_available() -> bool:
    return importlib.util.find_spec("easyocr") is not None


def corpus_inputs(samples: Path | None = None) -> tuple[Inputs, str | None]:
    """The sample corpus as ingest inputs, and a note when its images are skipped."""
    samples = samples or _samples_dir()
    folders = [str(samples / folder) for folder in TEXT_SAMPLE_FOLDERS]
    images = samples / IMAGE_SAMPLE_FOLDER
    image_count = sum(1 for path in images.rglob("*") if path.is_file()) if images.is_dir() else 0
    note = None
    if image_count and ocr_available():
        folders.append(str(images))
    elif image_count:
        note = (
            f"{image_count} sample image(s) skipped: the OCR extra is not installed "
            "(pip install -e '.[ocr]' adds EasyOCR)"
        )
    return collect_inputs(folders), note


@dataclass
class DemoResults:
    # Final status per document (duplicates found at submit time count as `duplicate`).
    document_statuses: dict[str, str]
    # Why each unfinished or failed document did not finish, by document label.
    problems: dict[str, str]
    top_entities: list[dict[str, Any]]
    sentiment_totals: dict[str, int]
    search: dict[str, Any]


def _collect_results(client: httpx.Client, report: IngestReport, query: str) -> DemoResults:
    """Read the outcome back through the API, as a client would."""
    statuses: dict[str, str] = {}
    problems: dict[str, str] = {}
    for outcome in report.accepted:
        if outcome.duplicate:
            statuses[outcome.label] = "duplicate"
            continue
        document = client.get(f"/v1/documents/{outcome.document_id}").json()
        statuses[outcome.label] = document["status"]
        if document["status"] not in FINISHED_DOCUMENT_STATUSES:
            job = client.get(f"/v1/jobs/{outcome.job_id}").json()
            problems[outcome.label] = f"job {job['status']}: {job.get('error') or 'did not finish'}"
    return DemoResults(
        document_statuses=statuses,
        problems=problems,
        top_entities=[
            entity
            for entity in client.get("/v1/insights/entities", params={"top": 100}).json()["top"]
            if entity["label"] in NAMED_ENTITY_LABELS
        ][:TOP_ENTITIES_SHOWN],
        sentiment_totals=client.get("/v1/insights/sentiment").json()["totals"],
        search=client.get("/v1/search", params={"q": query, "limit": 5}).json(),
    )


def stage_timings() -> dict[str, tuple[int, int, float]]:
    """Per stage: (runs that succeeded, runs that failed, seconds spent), from `sie_job_duration_seconds`."""
    counts: Counter[tuple[str, bool]] = Counter()
    seconds: Counter[str] = Counter()
    for family in metrics.JOB_DURATION.collect():
        for sample in family.samples:
            stage, outcome = sample.labels["stage"], sample.labels["outcome"]
            if sample.name.endswith("_count"):
                counts[(stage, outcome == "error")] += int(sample.value)
            elif sample.name.endswith("_sum"):
                seconds[stage] += sample.value
    stages = sorted({stage for stage, _ in counts}, key=_stage_order)
    return {stage: (counts[(stage, False)], counts[(stage, True)], seconds[stage]) for stage in stages}


def _stage_order(stage: str) -> int:
    return PIPELINE_STAGES.index(stage) if stage in PIPELINE_STAGES else len(PIPELINE_STAGES)


def highlighted(snippet: str) -> Text:
    """A search snippet on one line, with its <mark>…</mark> terms highlighted."""
    snippet = " ".join(snippet.split())
    text = Text()
    position = 0
    for match in _MARK.finditer(snippet):
        text.append(snippet[position : match.start()])
        text.append(match.group(1), style="bold black on yellow")
        position = match.end()
    text.append(snippet[position:])
    return text


def print_report(
    console: Console,
    report: IngestReport,
    results: DemoResults,
    *,
    elapsed: float,
    image_note: str | None,
    query: str,
) -> None:
    console.rule("Ingestion")
    console.print(
        f"accepted {len(report.accepted)} (duplicates at submit {report.duplicates}), "
        f"rejected {len(report.rejected)}"
    )
    for outcome in report.rejected:
        console.print(f"  [red]rejected[/red] {escape(outcome.label)}: {escape(outcome.reason or '')}")
    if image_note:
        console.print(f"[yellow]note:[/yellow] {image_note}")

    console.rule("Pipeline stages")
    stages = Table(
        caption="nlp: one run per batch of jobs; the first loads the spaCy model", caption_justify="left"
    )
    for column in ("stage", "runs", "errors", "total s", "mean ms"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for stage, (runs, errors, seconds) in stage_timings().items():
        mean_ms = seconds / (runs + errors) * 1000 if runs + errors else 0.0
        stages.add_row(stage, str(runs), str(errors), f"{seconds:.2f}", f"{mean_ms:.1f}")
    console.print(stages)

    console.rule("Documents")
    by_status = Counter(results.document_statuses.values())
    shown = ["done", "duplicate", "failed", *sorted(set(by_status) - {"done", "duplicate", "failed"})]
    console.print("  ".join(f"{status} {by_status.get(status, 0)}" for status in shown))
    documents = len(results.document_statuses)
    console.print(
        f"{documents} documents in {elapsed:.1f} s ({documents / elapsed:.1f} documents/s end to end)"
    )
    for label, problem in results.problems.items():
        console.print(f"  [red]not finished[/red] {escape(label)}: {escape(problem)}")

    console.rule("Top entities")
    entities = Table()
    for column in ("entity", "label", "documents", "mentions"):
        entities.add_column(column, justify="left" if column in ("entity", "label") else "right")
    for entity in results.top_entities:
        entities.add_row(
            escape(entity["text"]), entity["label"], str(entity["documents"]), str(entity["mentions"])
        )
    console.print(entities)

    console.rule("Sentiment")
    total = sum(results.sentiment_totals.values()) or 1
    for label in ("positive", "neutral", "negative"):
        count = results.sentiment_totals.get(label, 0)
        console.print(f"{label:<9} {count:>3}  {'█' * round(30 * count / total)}")

    console.rule(f"Search: {query!r}")
    hits = results.search["hits"]
    console.print(f"{results.search['total']} hits; the first {len(hits)}:")
    for hit in hits:
        console.print(Text(f"• {hit['title'] or hit['id']} ({hit['sentiment']})", style="bold"))
        console.print(Text("  ") + highlighted(hit["snippet"]))


def _serve(console: Console, app: Any, api_key: str, options: DemoOptions) -> None:
    import uvicorn

    base = f"http://{SERVE_HOST}:{options.port}"
    console.rule("Serving the API")
    console.print(f"demo API key (tenant '{DEMO_TENANT}', shown once): {api_key}", soft_wrap=True)
    console.print(
        "Try:\n"
        f"  curl -s {base}/health\n"
        f"  curl -s -H 'X-API-Key: {api_key}' '{base}/v1/search?q={options.query}'\n"
        f"  curl -s -H 'X-API-Key: {api_key}' -H 'Content-Type: application/json' "
        f'-d \'{{"text": "Lisbon welcomed the new tram line."}}\' {base}/v1/documents\n'
        f"  curl -s -H 'X-API-Key: {api_key}' {base}/v1/insights/sentiment\n"
        f"  sie ingest --api-url {base} --api-key {api_key} PATH_OR_URL...\n"
        "Press Ctrl-C to stop.",
        soft_wrap=True,
        highlight=False,
    )
    uvicorn.run(app, host=SERVE_HOST, port=options.port, log_config=None, access_log=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
