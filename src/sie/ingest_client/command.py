"""The `sie ingest` command: send every input with a progress bar, wait if asked, print the summary."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sie.core.config import settings
from sie.core.db import migrate
from sie.ingest_client.direct import DirectSender
from sie.ingest_client.inputs import DocumentRequest, Inputs, collect_inputs
from sie.ingest_client.remote import RemoteSender, api_client
from sie.ingest_client.report import EXIT_UNUSABLE, IngestReport, JobState, print_summary
from sie.ingest_client.senders import IngestAborted, Sender

FINAL_JOB_STATUSES = frozenset({"done", "failed", "dead"})
# Documents per POST /v1/documents/batch; well under the API's default cap of 1,000.
BATCH_SIZE = 200
WAIT_POLL_SECONDS = 1.0


def push(
    inputs: Inputs,
    sender: Sender,
    *,
    source: str | None = None,
    priority: str = "normal",
    console: Console | None = None,
) -> IngestReport:
    """Send every input with a progress bar; the report keeps one outcome per input."""
    outcomes = list(inputs.rejected)
    progress = Progress(
        TextColumn("[bold]ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console or Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task("", total=inputs.total)
        for item in inputs.uploads:
            progress.update(task, description=escape(item.path.name))
            outcomes.append(sender.upload(item, source=source, priority=priority))
            progress.advance(task)
        for chunk in _chunks(inputs.documents, BATCH_SIZE):
            progress.update(task, description=f"{len(chunk)} text/URL documents")
            outcomes.extend(sender.submit(chunk))
            progress.advance(task, len(chunk))
        progress.update(task, description="")
    return IngestReport(outcomes=outcomes)


def _chunks(items: Sequence[DocumentRequest], size: int) -> Iterable[Sequence[DocumentRequest]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def wait_for_jobs(sender: Sender, job_ids: Sequence[str], *, timeout: float) -> dict[str, JobState]:
    """Poll until every job is done, failed or dead, or `timeout` passes; returns the last states."""
    deadline = time.monotonic() + timeout
    states = dict.fromkeys(job_ids, JobState(status="pending"))
    while True:
        unfinished = [job_id for job_id, state in states.items() if state.status not in FINAL_JOB_STATUSES]
        if not unfinished or time.monotonic() >= deadline:
            return states
        states.update(sender.job_states(unfinished))
        if all(state.status in FINAL_JOB_STATUSES for state in states.values()):
            return states
        time.sleep(WAIT_POLL_SECONDS)


def run(
    targets: Sequence[str],
    *,
    api_url: str | None,
    api_key: str | None,
    tenant: str,
    source: str | None,
    priority: str,
    wait: bool,
    timeout: float,
) -> int:
    """The `sie ingest` command; returns its exit status."""
    errors = Console(stderr=True)
    if api_url and not api_key:
        errors.print("sie ingest: --api-url needs --api-key (or SIE_API_KEY)")
        return EXIT_UNUSABLE
    inputs = collect_inputs(targets, source=source, priority=priority)
    try:
        if api_url:
            with api_client(api_url, api_key or "") as client:
                report = deliver(
                    inputs, RemoteSender(client), source=source, priority=priority, wait=wait, timeout=timeout
                )
        else:
            _prepare_local_database()
            report = deliver(
                inputs, DirectSender(tenant), source=source, priority=priority, wait=wait, timeout=timeout
            )
    except IngestAborted as exc:
        errors.print(f"sie ingest: {escape(str(exc))}")
        return EXIT_UNUSABLE
    print_summary(report, Console())
    return report.exit_code()


def deliver(
    inputs: Inputs, sender: Sender, *, source: str | None, priority: str, wait: bool, timeout: float
) -> IngestReport:
    """Push the inputs, let in-process jobs run, and with `wait` poll every job to a final status."""
    report = push(inputs, sender, source=source, priority=priority)
    # Local mode's jobs run on threads of this process: they must finish before it exits.
    sender.drain(timeout)
    if wait:
        job_ids = sorted({outcome.job_id for outcome in report.accepted if outcome.job_id})
        report.jobs = wait_for_jobs(sender, job_ids, timeout=timeout)
    return report


def _prepare_local_database() -> None:
    """The embedded SQLite database is created on first use; a configured database is left alone."""
    if settings.database_url is None:
        migrate("head")
