"""`sie ingest PATH|URL...`: push files, folders, feed files and URLs into SIE.

Two ways to deliver, one flow:
- remote (`--api-url`, `--api-key` or `SIE_API_URL`/`SIE_API_KEY`): files go to
  `/v1/documents/upload`, text and URL documents to `/v1/documents/batch` in chunks; a 429 or 503
  is retried after the server's `Retry-After`.
- direct (no `--api-url`): documents go through `sie.core.engine.ingest.ingest` into the configured
  database and queue; with the in-process queue (local mode) the command waits for the jobs to run.

Feed files (`.xml`, `.rss`, `.atom` that feedparser reads as RSS or Atom) are expanded into one
document per item. Every input ends up accepted (maybe as a duplicate) or rejected with a reason.

Exit status: 0 when every input was accepted (and, with `--wait`, every job finished `done`);
1 when any input was rejected or any waited-for job failed, died or did not finish in time;
2 when nothing could be sent at all (API unreachable, key refused, bad arguments).
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import feedparser
import httpx
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from sie.core.config import settings
from sie.core.db import migrate, session_scope
from sie.core.engine.ingest import NewDocument, ingest
from sie.core.engine.queue import InProcessQueue, get_job_queue
from sie.core.errors import SieError
from sie.core.models import Job
from sie.core.pipeline.extract import extract
from sie.core.pipeline.sniff import SUPPORTED_TYPES, is_image, sniff_content_type
from sie.core.schemas import DocumentCreate
from sie.core.sources.feed import MAX_GUID_CHARS

FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom"})
SOURCE_UNSAFE = re.compile(r"[^\w.-]+")
FINAL_JOB_STATUSES = frozenset({"done", "failed", "dead"})
# Documents per POST /v1/documents/batch; well under the API's default cap of 1,000.
BATCH_SIZE = 200
HTTP_TIMEOUT_SECONDS = 60.0
# A 429/503 is retried after the server's Retry-After, but never waits longer than this per try.
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_ATTEMPTS = 8
WAIT_POLL_SECONDS = 1.0
# The API's 415 says the same, so both delivery paths explain a rejection alike.
UNSUPPORTED_FILE_REASON = (
    "unsupported file type: send plain text, HTML, PDF or an image (PNG, JPEG, TIFF, WebP)"
)

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_UNUSABLE = 2


class IngestAborted(Exception):
    """Nothing more can be sent: the API is unreachable or refuses the key."""


@dataclass(frozen=True)
class FileUpload:
    """A file to upload as is; the API (or the direct path) sniffs its type from the bytes."""

    path: Path

    @property
    def label(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class DocumentRequest:
    """A text or URL document: the JSON body of one entry of POST /v1/documents/batch."""

    label: str
    body: dict[str, Any]


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


@dataclass
class Inputs:
    uploads: list[FileUpload] = field(default_factory=list)
    documents: list[DocumentRequest] = field(default_factory=list)
    rejected: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.uploads) + len(self.documents)


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


# --- Turning arguments into inputs ---------------------------------------------------------------


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def collect_inputs(targets: Sequence[str], *, source: str | None = None, priority: str = "normal") -> Inputs:
    """Files (folders recursively, hidden files skipped), feed items and URLs, in argument order."""
    inputs = Inputs()
    for target in targets:
        if is_url(target):
            _add_document(inputs, target, {"url": target, "source": source or "cli", "priority": priority})
            continue
        path = Path(target)
        if path.is_dir():
            files = sorted(
                candidate
                for candidate in path.rglob("*")
                if candidate.is_file()
                and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
            )
        elif path.is_file():
            files = [path]
        else:
            inputs.rejected.append(Outcome(label=target, reason="no such file, folder or http(s) URL"))
            continue
        for file in files:
            feed_documents = feed_items(file, source=source, priority=priority)
            if feed_documents is None:
                inputs.uploads.append(FileUpload(file))
            elif not feed_documents:
                inputs.rejected.append(Outcome(label=str(file), reason="feed has no items"))
            for label, body in feed_documents or ():
                _add_document(inputs, label, body)
    return inputs


def _add_document(inputs: Inputs, label: str, body: dict[str, Any]) -> None:
    """Check the body against the API's own schema first, so one bad entry cannot sink a batch."""
    try:
        DocumentCreate.model_validate(body)
    except ValidationError as exc:
        inputs.rejected.append(Outcome(label=label, reason=validation_reason(exc)))
        return
    inputs.documents.append(DocumentRequest(label=label, body=body))


def validation_reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
    )


def feed_items(path: Path, *, source: str | None, priority: str) -> list[tuple[str, dict[str, Any]]] | None:
    """The documents of an RSS/Atom file as (label, body) pairs; None when `path` is not a feed."""
    if path.suffix.lower() not in FEED_SUFFIXES:
        return None
    parsed = feedparser.parse(path.read_bytes())
    if not parsed.version:
        return None
    # `world news.rss.xml` → `feed:world-news`: a source name the API accepts.
    feed_name = SOURCE_UNSAFE.sub("-", path.name.split(".", 1)[0]).strip("-") or "feed"
    feed_title = parsed.feed.get("title")
    items: list[tuple[str, dict[str, Any]]] = []
    for number, entry in enumerate(parsed.entries, start=1):
        link = entry.get("link")
        metadata = {
            key: value
            for key, value in (("feed", feed_title), ("link", link), ("published", entry.get("published")))
            if value
        }
        body: dict[str, Any] = {
            "title": entry.get("title"),
            "source": source or f"feed:{feed_name}",
            "priority": priority,
            "metadata": metadata,
            "external_id": (entry.get("id") or link or "")[:MAX_GUID_CHARS] or None,
        }
        text = _entry_text(entry)
        if text:
            body["text"] = text
        elif link:
            body["url"] = link
        items.append((f"{path}#{number} {entry.get('title') or link or ''}".strip(), body))
    return items


def _entry_text(entry: Any) -> str | None:
    """The item's full text (Atom content, else RSS description), reduced from HTML to text."""
    contents = entry.get("content") or []
    detail = contents[0] if contents else entry.get("summary_detail") or {}
    raw = detail.get("value")
    if not raw or not raw.strip():
        return None
    try:
        return extract(raw.encode(), declared_type=detail.get("type")).text
    except SieError:
        return None


# --- Delivering inputs ---------------------------------------------------------------------------


class Sender(Protocol):
    def upload(self, item: FileUpload, *, source: str | None, priority: str) -> Outcome: ...

    def submit(self, documents: Sequence[DocumentRequest]) -> list[Outcome]: ...

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]: ...

    def drain(self, timeout: float) -> None:
        """Let accepted jobs run before the process exits (only local mode's in-process queue needs it)."""


def _accepted(label: str, body: dict[str, Any]) -> Outcome:
    return Outcome(
        label=label,
        job_id=body["job_id"],
        document_id=body["document_id"],
        duplicate=bool(body.get("duplicate")),
    )


class RemoteSender:
    """Talks to the SIE API over HTTP; `client` may be any httpx.Client (FastAPI's TestClient too)."""

    def __init__(self, client: httpx.Client, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._sleep = sleep

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send once, and again after Retry-After while the API answers 429 or 503."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                raise IngestAborted(f"cannot reach the API at {self.client.base_url}: {exc}") from exc
            if response.status_code in (401, 403):
                raise IngestAborted(f"the API refused the key ({response.status_code}: {_detail(response)})")
            if response.status_code not in (429, 503) or attempt == MAX_ATTEMPTS:
                return response
            self._sleep(_retry_after(response, attempt))
        raise AssertionError("unreachable")  # the loop returns on its last attempt

    def upload(self, item: FileUpload, *, source: str | None, priority: str) -> Outcome:
        form = {"priority": priority, **({"source": source} if source else {})}
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            return Outcome(label=item.label, reason=f"cannot read the file: {exc.strerror or exc}")
        response = self._request(
            "POST", "/v1/documents/upload", files={"file": (item.path.name, data)}, data=form
        )
        if response.status_code == 202:
            return _accepted(item.label, response.json())
        return Outcome(label=item.label, reason=f"{response.status_code}: {_detail(response)}")

    def submit(self, documents: Sequence[DocumentRequest]) -> list[Outcome]:
        response = self._request(
            "POST", "/v1/documents/batch", json={"documents": [document.body for document in documents]}
        )
        if response.status_code != 202:
            reason = f"{response.status_code}: {_detail(response)}"
            return [Outcome(label=document.label, reason=reason) for document in documents]
        results = response.json()["results"]
        return [
            _accepted(document.label, result) for document, result in zip(documents, results, strict=True)
        ]

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        states: dict[str, JobState] = {}
        for job_id in job_ids:
            response = self._request("GET", f"/v1/jobs/{job_id}")
            if response.status_code == 200:
                job = response.json()
                states[job_id] = JobState(status=job["status"], error=job.get("error"))
        return states

    def drain(self, timeout: float) -> None:
        return None


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(detail, list):  # FastAPI's 422: name each failing field
        return "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', [])[1:]) or 'body'}: {error.get('msg')}"
            for error in detail
        )
    return str(detail)


def _retry_after(response: httpx.Response, attempt: int) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        seconds = float(2**attempt)
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))


class DirectSender:
    """Writes straight into the configured database and queue (`sie.core.engine.ingest.ingest`)."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.queue = get_job_queue()

    def upload(self, item: FileUpload, *, source: str | None, priority: str) -> Outcome:
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            return Outcome(label=item.label, reason=f"cannot read the file: {exc.strerror or exc}")
        if not data:
            return Outcome(label=item.label, reason="the file is empty")
        if len(data) > settings.max_upload_bytes:
            return Outcome(label=item.label, reason=f"file exceeds {settings.max_upload_bytes} bytes")
        content_type = sniff_content_type(data)
        if content_type not in SUPPORTED_TYPES:
            return Outcome(label=item.label, reason=UNSUPPORTED_FILE_REASON)
        new = NewDocument(
            data=data,
            filename=item.path.name[:500],
            content_type=content_type,
            source=source or "upload",
            priority=priority,
            kind="ocr" if is_image(content_type) else "ingest",
        )
        return self._ingest([(item.label, new)])[0]

    def submit(self, documents: Sequence[DocumentRequest]) -> list[Outcome]:
        # The API's body model and NewDocument share their field names; validation fills the defaults.
        return self._ingest(
            [
                (
                    document.label,
                    NewDocument(**DocumentCreate.model_validate(document.body).model_dump(mode="json")),
                )
                for document in documents
            ]
        )

    def _ingest(self, pending: Sequence[tuple[str, NewDocument]]) -> list[Outcome]:
        submissions = ingest(self.queue, tenant=self.tenant, documents=[new for _, new in pending])
        return [
            _accepted(label, submission.as_response())
            for (label, _), submission in zip(pending, submissions, strict=True)
        ]

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        with session_scope() as session:
            rows = session.execute(
                select(Job.id, Job.status, Job.error).where(
                    Job.tenant == self.tenant, Job.id.in_([uuid.UUID(job_id) for job_id in job_ids])
                )
            ).all()
        return {str(job_id): JobState(status=status, error=error) for job_id, status, error in rows}

    def drain(self, timeout: float) -> None:
        if isinstance(self.queue, InProcessQueue):
            self.queue.join(timeout)


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


def print_summary(report: IngestReport, console: Console) -> None:
    counts = Table(title="Ingest summary", show_header=False, title_justify="left")
    counts.add_column("what")
    counts.add_column("count", justify="right")
    counts.add_row("accepted", str(len(report.accepted)))
    counts.add_row("  of which duplicates", str(report.duplicates))
    counts.add_row("rejected", str(len(report.rejected)))
    for status, count in sorted(report.status_counts().items()):
        counts.add_row(f"jobs {status}", str(count))
    console.print(counts)
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


def api_client(api_url: str, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=api_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=HTTP_TIMEOUT_SECONDS
    )


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
