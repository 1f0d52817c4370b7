"""The `sie` command: migrate, manage API keys, serve the API, run workers, ingest, demo."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer

import sie
from sie.core.config import settings

app = typer.Typer(help="SIE, the Smart Ingestion Engine.", no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and replay the dead-letter queue.", no_args_is_help=True)
app.add_typer(keys_app, name="api-key")
app.add_typer(dlq_app, name="dead-letters")

DEFAULT_WORKER_QUEUES = "ingestion.high,ingestion,ingestion.low"


def _setup_logging() -> None:
    from sie.core.logging import configure_logging

    configure_logging(settings.log_level)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"sie {sie.__version__}")


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Alembic revision")] = "head") -> None:
    """Apply database migrations (`alembic upgrade head`)."""
    _setup_logging()
    from sie.core.db import migrate as run_migrations

    run_migrations(revision)
    typer.echo(f"database migrated to {revision}")


def _parse_rate_limits(values: list[str]) -> dict[str, dict[str, int]] | None:
    limits: dict[str, dict[str, int]] = {}
    for value in values:
        try:
            priority, rule = value.split("=", 1)
            requests, period = rule.split("/", 1)
            if priority not in ("low", "normal", "high"):
                raise ValueError(priority)
            limits[priority] = {"requests": int(requests), "period": int(period)}
        except ValueError:
            raise typer.BadParameter(
                f"expected PRIORITY=REQUESTS/SECONDS (e.g. normal=600/60), got {value!r}"
            ) from None
    return limits or None


@keys_app.command("create")
def create_key(
    tenant: Annotated[str, typer.Option(help="The tenant the key belongs to")],
    admin: Annotated[bool, typer.Option("--admin", help="Grant every scope, including admin")] = False,
    system: Annotated[
        bool,
        typer.Option("--system", help="Every scope plus system: may act for any tenant (the operator's key)"),
    ] = False,
    name: Annotated[str, typer.Option(help="A label for people")] = "",
    scope: Annotated[list[str], typer.Option(help="Scopes: ingest, read, admin (repeatable)")] = [],  # noqa: B006
    rate_limit: Annotated[
        list[str], typer.Option(help="Override a limit: PRIORITY=REQUESTS/SECONDS (repeatable)")
    ] = [],  # noqa: B006
) -> None:
    """Create an API key; the key is printed once and only its HMAC is stored."""
    from sie.core.db import session_scope
    from sie.core.security import ALL_SCOPES, DEFAULT_SCOPES, SYSTEM_SCOPES, create_api_key

    scopes = SYSTEM_SCOPES if system else ALL_SCOPES if admin else tuple(scope) or DEFAULT_SCOPES
    unknown = set(scopes) - set(SYSTEM_SCOPES)
    if "system" in scope and not system:
        raise typer.BadParameter("the system scope is granted with --system only")
    if unknown:
        raise typer.BadParameter(f"unknown scope(s): {', '.join(sorted(unknown))}")
    with session_scope() as session:
        row, plain = create_api_key(
            session,
            tenant=tenant,
            name=name,
            scopes=scopes,
            rate_limits=_parse_rate_limits(rate_limit),  # type: ignore[arg-type]
        )
        key_id = row.id
    typer.echo(plain)
    typer.echo(f"key id {key_id}, tenant {tenant}, scopes {', '.join(sorted(scopes))}", err=True)


@keys_app.command("list")
def list_keys(tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None) -> None:
    """List keys (ids, tenants, scopes; never secrets)."""
    from sqlalchemy import select

    from sie.core.db import session_scope
    from sie.core.models import ApiKey

    with session_scope() as session:
        query = select(ApiKey).order_by(ApiKey.created_at)
        if tenant:
            query = query.where(ApiKey.tenant == tenant)
        for key in session.scalars(query):
            state = "revoked" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.tenant}\t{','.join(key.scopes)}\t{state}\t{key.name}")


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key id (the part after 'sie_')")]) -> None:
    """Revoke a key at once."""
    from sie.core.db import session_scope
    from sie.core.security import revoke_api_key

    with session_scope() as session:
        revoked = revoke_api_key(session, key_id)
    if not revoked:
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
) -> None:
    """Serve the API (FastAPI under uvicorn)."""
    import uvicorn

    _setup_logging()
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
    queue_list = [name.strip() for name in queues.split(",") if name.strip()]
    if concurrency is None:
        # Each OCR process holds its own ~2.5 GB model: one per pod unless asked otherwise.
        concurrency = 1 if "ocr" in queue_list else os.cpu_count() or 2
    if "ocr" in queue_list:
        from sie_ocr_worker.celery_app import app as celery_app
    else:
        from sie_worker.celery_app import app as celery_app
    argv = [
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
    celery_app.worker_main(argv)


@app.command()
def relay() -> None:
    """Run the outbox relay and re-index sweep on their own (the API also runs them)."""
    import threading

    from sie.core.engine.queue import get_job_queue
    from sie.core.engine.relay import run_relay

    _setup_logging()
    run_relay(get_job_queue(), threading.Event())


@app.command()
def scheduler(
    once: Annotated[bool, typer.Option("--once", help="Poll the sources due now, then exit")] = False,
) -> None:
    """Poll due sources (feeds, URL lists, sitemaps); several replicas may run at once."""
    import signal
    import threading

    from sie.core.engine.scheduler import run_due_sources, run_scheduler
    from sie.core.observability import init_sentry

    _setup_logging()
    init_sentry("scheduler")
    if once:
        typer.echo(f"{len(run_due_sources())} sources polled")
        return
    from sie.core.metrics import start_worker_metrics_server

    start_worker_metrics_server()  # polls, failures and errors on METRICS_PORT for Prometheus
    stop = threading.Event()
    # SIGTERM (a pod stopping) ends polls early; their sources are due again for the next replica.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_scheduler(stop)


@app.command()
def reindex(
    all_documents: Annotated[bool, typer.Option("--all", help="Rebuild the whole index")] = False,
) -> None:
    """Index documents that missed the search index (or, with --all, every document)."""
    from sie.core.engine.relay import mark_all_for_reindex, reindex_once

    _setup_logging()
    if all_documents:
        typer.echo(f"{mark_all_for_reindex()} documents marked for re-indexing")
    total = 0
    while count := reindex_once():
        total += count
    typer.echo(f"{total} documents indexed")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline on the bundled sample corpus, on embedded defaults (`sie demo --help`)."""
    from sie.demo import main

    # The demo parses its own options, in the clean process it starts for itself.
    raise typer.Exit(main(ctx.args))


@app.command()
def ingest(
    targets: Annotated[list[str], typer.Argument(help="Files, folders (recursive), feed files or URLs")],
    api_url: Annotated[
        str | None, typer.Option(envvar="SIE_API_URL", help="Send to this API (remote mode)")
    ] = None,
    api_key: Annotated[str | None, typer.Option(envvar="SIE_API_KEY", help="API key for --api-url")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant of the documents without --api-url")] = "default",
    source: Annotated[str | None, typer.Option(help="Source name recorded on every document")] = None,
    priority: Annotated[Literal["low", "normal", "high"], typer.Option(help="Queue priority")] = "normal",
    wait: Annotated[bool, typer.Option("--wait", help="Wait for every job and report statuses")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for jobs")] = 600.0,
) -> None:
    """Push documents, remotely (--api-url) or straight into the configured database and queue.

    Exit status: 0 all accepted (and done, with --wait); 1 some rejected or not done; 2 nothing sent.
    """
    from sie.ingest_client import run

    _setup_logging()
    raise typer.Exit(
        run(
            targets,
            api_url=api_url,
            api_key=api_key,
            tenant=tenant,
            source=source,
            priority=priority,
            wait=wait,
            timeout=timeout,
        )
    )


@dlq_app.command("list")
def list_dead_letters(limit: Annotated[int, typer.Option(help="At most this many")] = 20) -> None:
    """Show dead-lettered jobs, oldest first."""
    from sie.core.db import session_scope
    from sie.core.repository.dead_letters import pending_dead_letters

    with session_scope() as session:
        for letter in pending_dead_letters(session=session)[:limit]:
            typer.echo(
                f"{letter.created_at:%Y-%m-%d %H:%M:%S}\t{letter.job_id}\t{letter.queue}\t{letter.error}"
            )


@dlq_app.command("replay")
def replay_dead_letters(
    error_contains: Annotated[str | None, typer.Option(help="Only errors containing this text")] = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    max_jobs: Annotated[int, typer.Option(help="At most this many")] = 100,
) -> None:
    """Send dead-lettered jobs back to their queues (recorded as replayed by `cli`)."""
    from sie.core.engine.deadletter import replay_dead_letters as replay
    from sie.core.engine.queue import get_job_queue
    from sie.core.repository.dead_letters import ReplaySelector

    selector = ReplaySelector(tenant=tenant, queue=queue, error_contains=error_contains)
    letters = replay(
        get_job_queue(), selector, replayed_by=f"cli:{os.environ.get('USER', 'unknown')}", limit=max_jobs
    )
    typer.echo(f"{len(letters)} jobs replayed")
