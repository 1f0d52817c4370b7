"""`sie dead-letters list|replay`: the dead-letter queue, read from the database and replayed.

Imports inside the commands keep `sie --help` fast: the database, repository and engine modules
load only when a dead-letter command runs.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

app = typer.Typer(help="Inspect and replay the dead-letter queue.", no_args_is_help=True)


@app.command("list")
def list_dead_letters(limit: Annotated[int, typer.Option(help="At most this many")] = 20) -> None:
    """Show dead-lettered jobs, oldest first."""
    from sie.core.db import session_scope
    from sie.core.repository.dead_letters import pending_dead_letters

    with session_scope() as session:
        for letter in pending_dead_letters(session=session)[:limit]:
            typer.echo(
                f"{letter.created_at:%Y-%m-%d %H:%M:%S}\t{letter.job_id}\t{letter.queue}\t{letter.error}"
            )


@app.command("replay")
def replay_dead_letters(
    error_contains: Annotated[str | None, typer.Option(help="Only errors containing this text")] = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    max_jobs: Annotated[int, typer.Option(help="At most this many")] = 100,
) -> None:
    """Send dead-lettered jobs back to their queues (recorded as replayed by `cli`)."""
    from sie.core.engine.deadletter import replay_dead_letters as replay
    from sie.core.engine.runtime import get_job_queue
    from sie.core.repository.dead_letters import ReplaySelector

    selector = ReplaySelector(tenant=tenant, queue=queue, error_contains=error_contains)
    letters = replay(
        get_job_queue(), selector, replayed_by=f"cli:{os.environ.get('USER', 'unknown')}", limit=max_jobs
    )
    typer.echo(f"{len(letters)} jobs replayed")
