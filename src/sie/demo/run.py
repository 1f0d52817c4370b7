"""`sie demo`'s options and run: in a clean child process, the corpus through the in-process API.

Three imports wait inside functions, on purpose: `main` often only starts the clean child and
returns, so the API stack (`sie_api.main`, FastAPI's TestClient) loads in the child alone, and
uvicorn only with `--serve`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.panel import Panel

from sie.core.config import settings
from sie.core.db import migrate, session_scope
from sie.core.engine.queue import InProcessQueue
from sie.core.engine.runtime import get_job_queue
from sie.core.logging import configure_logging
from sie.core.security import ALL_SCOPES, create_api_key
from sie.demo.corpus import corpus_inputs, samples_dir
from sie.demo.report import collect_results, print_report
from sie.ingest_client import Inputs, RemoteSender, push

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

DEMO_TENANT = "demo"
DEFAULT_DATA_DIR = Path(".sie/demo")
DEFAULT_QUERY = "solar"
DEFAULT_PORT = 8000
SERVE_HOST = "127.0.0.1"
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
    console.print(_banner(options, inputs))
    app = _api_app()
    with _in_process_client(app, api_key) as client:
        report = push(inputs, RemoteSender(client))
        # Local mode (checked above) always runs jobs on the in-process queue.
        finished = cast(InProcessQueue, get_job_queue()).join(options.timeout)
        elapsed = time.perf_counter() - started
        results = collect_results(client, report, options.query)
    print_report(console, report, results, elapsed=elapsed, image_note=image_note, query=options.query)
    if not finished:
        console.print(f"[red]jobs were still running after {options.timeout:.0f} s[/red]")
    exit_code = 0 if finished and not results.problems and not report.rejected else 1
    console.print(f"demo finished in {elapsed:.1f} s: exit status {exit_code}")
    if options.serve:
        _serve(console, app, api_key, options)
    return exit_code


def _banner(options: DemoOptions, inputs: Inputs) -> Panel:
    return Panel.fit(
        f"SIE demo: local mode, embedded defaults\n"
        f"database  SQLite at {options.data_dir / 'sie.db'}\n"
        f"queue     {get_job_queue().name} (a thread pool in this process)\n"
        f"search    built-in ({settings.effective_search_backend}, SQLite FTS5)\n"
        f"corpus    {inputs.total} documents from {samples_dir()}",
        title="SIE demo",
    )


def _create_demo_key() -> str:
    with session_scope() as session:
        _, plain = create_api_key(
            session, tenant=DEMO_TENANT, name="sie demo", scopes=ALL_SCOPES, rate_limits=DEMO_RATE_LIMITS
        )
    return plain


def _api_app() -> Any:
    from sie_api.main import app

    return app


def _in_process_client(app: Any, api_key: str) -> TestClient:
    # Starlette warns that its TestClient will move to another HTTP library; nothing to act on here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    return TestClient(app, headers={"X-API-Key": api_key})


def _serve(console: Console, app: Any, api_key: str, options: DemoOptions) -> None:
    import uvicorn

    base = f"http://{SERVE_HOST}:{options.port}"
    console.rule("Serving the API")
    console.print(f"demo API key (tenant '{DEMO_TENANT}', shown once): {api_key}", soft_wrap=True)
    console.print(
        f"Console: {base}/ui/ (sign in with the key above; it stays in the browser tab)\n"
        f"API docs: {base}/docs",
        soft_wrap=True,
        highlight=False,
    )
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
