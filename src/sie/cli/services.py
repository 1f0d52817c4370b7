"""`sie serve`, `sie worker`, `sie relay`, `sie scheduler`: the long-running processes.

Imports inside the commands are on purpose: each command loads only its own stack (uvicorn and
the API, a Celery app, the relay, the scheduler), so `sie --help` stays fast and, above all, the
general worker never loads the OCR worker's app (torch, EasyOCR) nor the other way round.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer

from sie.cli.logs import setup_logging
from sie.core.config import settings
from sie.core.queues import INGEST_QUEUES, QUEUE_OCR

app = typer.Typer()

DEFAULT_WORKER_QUEUES = ",".join(INGEST_QUEUES)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
) -> None:
    """Serve the API (FastAPI under uvicorn)."""
    import uvicorn

    setup_logging()
    uvicorn.run("sie_api.main:app", host=host, port=port, workers=workers, log_config=None, access_log=False)


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues, highest priority first")] = (
        DEFAULT_WORKER_QUEUES
    ),
    concurrency: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per CPU; 1 for the OCR queue)")
    ] = None,
    max_tasks_per_child: Annotated[int, typer.Option(help="Recycle a process after N tasks")] = (
        settings.worker_max_tasks_per_child
    ),
    hostname: Annotated[str | None, typer.Option(help="Celery node name")] = None,
) -> None:
    """Run a Celery worker (the OCR queue `ocr` is served by the OCR worker image)."""
    if settings.local_mode:
        typer.echo("sie worker needs REDIS_URL and DATABASE_URL (local mode runs jobs in-process)", err=True)
        raise typer.Exit(2)
    # JSON lines from the first one: the app's import logs too, and the runbook's `jq` reads them.
    setup_logging()
    queue_list = [name.strip() for name in queues.split(",") if name.strip()]
    if QUEUE_OCR in queue_list:
        from sie_ocr_worker.celery_app import app as celery_app
    else:
        from sie_worker.celery_app import app as celery_app
    celery_app.worker_main(_worker_argv(queue_list, concurrency, max_tasks_per_child, hostname))


def _worker_argv(
    queue_list: list[str], concurrency: int | None, max_tasks_per_child: int, hostname: str | None
) -> list[str]:
    if concurrency is None:
        # Each OCR process holds its own ~2.5 GB model: one per pod unless asked otherwise.
        concurrency = 1 if QUEUE_OCR in queue_list else os.cpu_count() or 2
    argv = [
        "--quiet",  # no banner: plain text on stdout, where every line is JSON
        "worker",
        f"--queues={','.join(queue_list)}",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if max_tasks_per_child:
        argv.append(f"--max-tasks-per-child={max_tasks_per_child}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    return argv


@app.command()
def relay() -> None:
    """Run the outbox relay and re-index sweep on their own (the API also runs them)."""
    from sie.core.engine.relay import run_relay
    from sie.core.engine.runtime import get_job_queue
    from sie.core.metrics import set_component

    setup_logging()
    set_component("relay")
    run_relay(get_job_queue(), threading.Event())


@app.command()
def scheduler(
    once: Annotated[bool, typer.Option("--once", help="Poll the sources due now, then exit")] = False,
) -> None:
    """Poll due sources (feeds, URL lists, sitemaps); several replicas may run at once."""
    from sie.core.engine.scheduler import run_due_sources, run_scheduler
    from sie.core.metrics import set_component, start_worker_metrics_server
    from sie.core.observability import init_sentry

    setup_logging()
    init_sentry("scheduler")
    set_component("scheduler")
    if once:
        typer.echo(f"{len(run_due_sources())} sources polled")
        return
    start_worker_metrics_server()  # polls, failures and errors on METRICS_PORT for Prometheus
    stop = threading.Event()
    # SIGTERM (a pod stopping) ends polls early; their sources are due again for the next replica.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_scheduler(stop)
