"""What became of each input, the exit status it makes, and the summary printed at the end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.table import Table

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_UNUSABLE = 2


@dataclass(frozen=True)
class Outcome:
    """What became of one input: accepted (job and document ids) or rejected with a reason."""

    label: str
    job_id: str | None = None
    document_id: str | None = None
    duplicate: bool = False
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.job_id is not None


@dataclass(frozen=True)
class JobState:
    status: str
    error: str | None = None


@dataclass
class IngestReport:
    outcomes: list[Outcome]
    # Job state per job id after waiting; empty when the caller did not wait.
    jobs: dict[str, JobState] = field(default_factory=dict)

    @property
    def accepted(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.accepted]

    @property
    def rejected(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.accepted]

    @property
    def duplicates(self) -> int:
        return sum(outcome.duplicate for outcome in self.outcomes)

    def status_counts(self) -> Counter[str]:
        return Counter(state.status for state in self.jobs.values())

    def unsuccessful_jobs(self) -> list[tuple[Outcome, JobState]]:
        return [
            (outcome, self.jobs[outcome.job_id])
            for outcome in self.accepted
            if outcome.job_id in self.jobs and self.jobs[outcome.job_id].status != "done"
        ]

    def exit_code(self) -> int:
        if self.rejected:
            return EXIT_SOME_FAILED
        if any(state.status != "done" for state in self.jobs.values()):
            return EXIT_SOME_FAILED
        return EXIT_OK


def print_summary(report: IngestReport, console: Console) -> None:
    console.print(_counts(report))
    if report.rejected:
        rejected = Table(title="Rejected", title_justify="left")
        rejected.add_column("input", overflow="fold")
        rejected.add_column("reason", overflow="fold")
        for outcome in report.rejected:
            rejected.add_row(escape(outcome.label), escape(outcome.reason or ""))
        console.print(rejected)
    if unsuccessful := report.unsuccessful_jobs():
        jobs = Table(title="Jobs not done", title_justify="left")
        for column in ("input", "status", "error"):
            jobs.add_column(column, overflow="fold")
        for outcome, state in unsuccessful:
            jobs.add_row(escape(outcome.label), state.status, escape(state.error or ""))
        console.print(jobs)
    console.print(
        f"accepted {len(report.accepted)}, duplicates {report.duplicates}, rejected {len(report.rejected)}"
    )


def _counts(report: IngestReport) -> Table:
    counts = Table(title="Ingest summary", show_header=False, title_justify="left")
    counts.add_column("what")
    counts.add_column("count", justify="right")
    counts.add_row("accepted", str(len(report.accepted)))
    counts.add_row("  of which duplicates", str(report.duplicates))
    counts.add_row("rejected", str(len(report.rejected)))
    for status, count in sorted(report.status_counts().items()):
        counts.add_row(f"jobs {status}", str(count))
    return counts
