"""`sie dead-letters list|replay|discard`: the dead-letter queue, read from the database.

Replays and discards take the same filters, show what they would take with `--dry-run`, and record
who acted (`cli:$USER`), as the API's do. Imports inside the commands keep `sie --help` fast: the
database, repository and engine modules load only when a dead-letter command runs.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sie.core.models import DeadLetter
    from sie.core.repository.dead_letters import ReplaySelector

app = typer.Typer(help="Inspect, replay and discard the dead-letter queue.", no_args_is_help=True)

DRY_RUN_SAMPLE = 10
ErrorContains = Annotated[str | None, typer.Option(help="Only errors containing this text")]
QueueName = Annotated[str | None, typer.Option("--queue", help="Only this queue")]
Tenant = Annotated[str | None, typer.Option(help="Only this tenant")]
MaxJobs = Annotated[int, typer.Option(min=1, help="At most this many")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show how many match and the first few; change nothing")
]


class Listed(StrEnum):
    pending = "pending"
    replayed = "replayed"
    discarded = "discarded"


@app.command("list")
def list_dead_letters(
    limit: Annotated[int, typer.Option(min=1, help="At most this many")] = 20,
    state: Annotated[
        Listed,
        typer.Option(help="pending (oldest first), or the audit trail of replays or discards (newest first)"),
    ] = Listed.pending,
) -> None:
    """Show dead-lettered jobs; replayed and discarded ones with when and by whom."""
    from sie.core.db import session_scope
    from sie.core.repository.dead_letters import find_dead_letters, pending_dead_letters

    with session_scope() as session:
        if state is Listed.pending:
            letters = pending_dead_letters(session=session, limit=limit)
        else:
            letters, _ = find_dead_letters(session=session, tenant=None, state=state.value, limit=limit)
        for letter in letters:
            typer.echo(_line(letter))


def _line(letter: DeadLetter) -> str:
    fields = [f"{letter.created_at:%Y-%m-%d %H:%M:%S}", str(letter.job_id), letter.queue, letter.error]
    for when, who in ((letter.replayed_at, letter.replayed_by), (letter.discarded_at, letter.discarded_by)):
        if when is not None:
            fields += [f"{when:%Y-%m-%d %H:%M:%S}", who or ""]
    return "\t".join(fields)


@app.command("replay")
def replay_dead_letters(
    error_contains: ErrorContains = None,
    queue: QueueName = None,
    tenant: Tenant = None,
    max_jobs: MaxJobs = 100,
    dry_run: DryRun = False,
) -> None:
    """Send dead-lettered jobs back to their queues (recorded as replayed by `cli:$USER`)."""
    from sie.core.engine.deadletter import replay_dead_letters as replay
    from sie.core.engine.runtime import get_job_queue

    selector = _selector(tenant, queue, error_contains)
    if dry_run:
        _preview(selector, max_jobs, "replayed")
        return
    letters = replay(get_job_queue(), selector, replayed_by=_who(), limit=max_jobs)
    typer.echo(f"{len(letters)} jobs replayed")


@app.command("discard")
def discard_dead_letters(
    error_contains: ErrorContains = None,
    queue: QueueName = None,
    tenant: Tenant = None,
    max_jobs: MaxJobs = 100,
    dry_run: DryRun = False,
) -> None:
    """Give up on dead-lettered jobs: they stay dead and leave the queue (recorded as discarded by
    `cli:$USER`)."""
    from sie.core.engine.deadletter import discard_dead_letters as discard

    selector = _selector(tenant, queue, error_contains)
    if dry_run:
        _preview(selector, max_jobs, "discarded")
        return
    letters = discard(selector, discarded_by=_who(), limit=max_jobs)
    typer.echo(f"{len(letters)} jobs discarded")


def _selector(tenant: str | None, queue: str | None, error_contains: str | None) -> ReplaySelector:
    from sie.core.repository.dead_letters import ReplaySelector

    return ReplaySelector(tenant=tenant, queue=queue, error_contains=error_contains)


def _preview(selector: ReplaySelector, max_jobs: int, done: str) -> None:
    from sie.core.db import session_scope
    from sie.core.repository.dead_letters import preview_dead_letters

    with session_scope() as session:
        matched, sample = preview_dead_letters(
            session=session, selector=selector, limit=max_jobs, sample_size=DRY_RUN_SAMPLE
        )
        for letter in sample:
            typer.echo(_line(letter))
    typer.echo(f"{matched} jobs would be {done} (dry run: nothing changed)")


def _who() -> str:
    return f"cli:{os.environ.get('USER', 'unknown')}"
