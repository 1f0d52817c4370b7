"""What the demo did: the outcome read back through the API, as a client would, and printed."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from sie.core import metrics
from sie.ingest_client import IngestReport

PIPELINE_STAGES = ("fetch", "extract", "ocr", "nlp", "store", "index", "total")
FINISHED_DOCUMENT_STATUSES = frozenset({"done", "duplicate"})
# Who, which organisations and where: dates and numbers are entities too, but say little here.
NAMED_ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP"})
TOP_ENTITIES_SHOWN = 10
SENTIMENT_BAR_WIDTH = 30
_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


@dataclass
class DemoResults:
    # Final status per document (duplicates found at submit time count as `duplicate`).
    document_statuses: dict[str, str]
    # Why each unfinished or failed document did not finish, by document label.
    problems: dict[str, str]
    top_entities: list[dict[str, Any]]
    sentiment_totals: dict[str, int]
    search: dict[str, Any]


def collect_results(client: httpx.Client, report: IngestReport, query: str) -> DemoResults:
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
                counts[(stage, outcome not in ("ok", "done"))] += int(sample.value)
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
    _print_ingestion(console, report, image_note)
    _print_stages(console)
    _print_documents(console, results, elapsed)
    _print_entities(console, results.top_entities)
    _print_sentiment(console, results.sentiment_totals)
    _print_search(console, results.search, query)


def _print_ingestion(console: Console, report: IngestReport, image_note: str | None) -> None:
    console.rule("Ingestion")
    console.print(
        f"accepted {len(report.accepted)} (duplicates at submit {report.duplicates}), "
        f"rejected {len(report.rejected)}"
    )
    for outcome in report.rejected:
        console.print(f"  [red]rejected[/red] {escape(outcome.label)}: {escape(outcome.reason or '')}")
    if image_note:
        console.print(f"[yellow]note:[/yellow] {image_note}")


def _print_stages(console: Console) -> None:
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


def _print_documents(console: Console, results: DemoResults, elapsed: float) -> None:
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


def _print_entities(console: Console, top_entities: list[dict[str, Any]]) -> None:
    console.rule("Top entities")
    entities = Table()
    for column in ("entity", "label", "documents", "mentions"):
        entities.add_column(column, justify="left" if column in ("entity", "label") else "right")
    for entity in top_entities:
        entities.add_row(
            escape(entity["text"]), entity["label"], str(entity["documents"]), str(entity["mentions"])
        )
    console.print(entities)


def _print_sentiment(console: Console, totals: dict[str, int]) -> None:
    console.rule("Sentiment")
    total = sum(totals.values()) or 1
    for label in ("positive", "neutral", "negative"):
        count = totals.get(label, 0)
        console.print(f"{label:<9} {count:>3}  {'█' * round(SENTIMENT_BAR_WIDTH * count / total)}")


def _print_search(console: Console, search: dict[str, Any], query: str) -> None:
    console.rule(f"Search: {query!r}")
    hits = search["hits"]
    console.print(f"{search['total']} hits; the first {len(hits)}:")
    for hit in hits:
        console.print(Text(f"• {hit['title'] or hit['id']} ({hit['sentiment']})", style="bold"))
        console.print(Text("  ") + highlighted(hit["snippet"]))
