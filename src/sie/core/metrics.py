"""Prometheus metrics: the handbook's names (§6.1) and what the dashboards read.

Label values are always bounded (queue, stage, outcome, route template, status class, source
name): never a document id or a raw URL. Workers run several processes: when
`PROMETHEUS_MULTIPROC_DIR` is set, prometheus-client's multiprocess mode aggregates them, and the
worker's main process serves the sum on `METRICS_PORT` (`start_worker_metrics_server`).

Who sets what: the API (HTTP, rate limits, submissions, `sie_dependency_up` from /health,
`sie_db_replica_lag_seconds` from /health and /metrics, and, from its relay thread,
`sie_queue_length` / `sie_queue_messages` / `sie_dlq_length` via `sie.core.engine.backlog`), the
workers (stages, documents, sentiment, retries, dead letters), the sources (polls) and the operator
(scale decisions, replays, reconcile errors). docs/observability.md lists every metric with its labels.

`sie_errors_total{component}` names the process that did the work, not the module: the code that
assembles a process calls `set_component` once at start-up (`api`, `worker`, `ocr-worker`,
`scheduler`, `relay`, `operator`), and shared code counts through `count_error`. The same accept
path thus reports `component="scheduler"` when the scheduler runs it and `component="api"` in the API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

import sie
from sie.core.config import settings
from sie.core.logging import get_logger

log = get_logger(__name__)

JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

QUEUE_LENGTH = Gauge(
    "sie_queue_length",
    "Backlog per queue, in jobs: pending (waiting in Redis, not yet sent, or held for a retry) or running",
    ["queue"],
    multiprocess_mode="mostrecent",
)
QUEUE_MESSAGES = Gauge(
    "sie_queue_messages",
    "Backlog per queue, in Celery messages (each carries up to WORKER_BATCH_SIZE jobs): waiting in "
    "Redis (every priority list) plus taken by a worker and not yet acknowledged (prefetched, running, "
    "retry countdown)",
    ["queue"],
    multiprocess_mode="mostrecent",
)
DLQ_LENGTH = Gauge("sie_dlq_length", "Jobs in the dead-letter queue", multiprocess_mode="mostrecent")
# stage="total" is one job attempt, whatever its end: outcome done, failed, retried, dead, timeout
# (TASK_SOFT_TIME_LIMIT ran out) or lost (its worker died, e.g. killed at TASK_TIME_LIMIT). The
# other stages' outcome is ok, error or timeout.
JOB_DURATION = Histogram(
    "sie_job_duration_seconds",
    "Time spent per pipeline stage and per job attempt (stage=total), by outcome",
    ["stage", "outcome"],
    buckets=JOB_BUCKETS,
)
# The API's view of what it needs (dependency: database, redis, search), as its /health last found it.
DEPENDENCY_UP = Gauge(
    "sie_dependency_up",
    "1 when the API's last /health check reached the dependency, 0 when it did not",
    ["dependency"],
    multiprocess_mode="mostrecent",
)
# Measured on the replica (DATABASE_READ_URL) when the API serves /health or /metrics; NaN while it
# cannot be reached. 0 while the replica has replayed all it received (an idle primary is no lag).
REPLICA_LAG = Gauge(
    "sie_db_replica_lag_seconds",
    "Seconds the read replica's replay trails the primary, as the API last measured it (NaN: unreachable)",
    multiprocess_mode="mostrecent",
)
HTTP_DURATION = Histogram(
    "sie_http_request_duration_seconds",
    "API request latency by method, route template and status code",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
)
ERRORS = Counter("sie_errors_total", "Errors by component and kind", ["component", "kind"])
DOCUMENTS = Counter(
    "sie_documents_total", "Documents that reached a final status, by status and source", ["status", "source"]
)
SENTIMENT = Counter("sie_sentiment_total", "Enriched documents by sentiment label", ["label"])
JOBS_SUBMITTED = Counter("sie_jobs_submitted_total", "Jobs accepted by the API or a source", ["queue"])
JOB_RETRIES = Counter("sie_job_retries_total", "Jobs scheduled for another attempt", ["queue", "kind"])
DEAD_LETTERED = Counter("sie_dead_lettered_total", "Jobs moved to the dead-letter queue", ["queue", "kind"])
RATE_LIMITED = Counter("sie_rate_limit_rejections_total", "Requests refused with 429", ["priority"])
OUTBOX_RELAYED = Counter("sie_outbox_relayed_total", "Committed jobs the relay (re)enqueued")
REINDEXED = Counter("sie_reindexed_total", "Documents indexed by the re-index sweep")
# Sources: one increment per poll; source_type is the registered kind (feed, sitemap, url_list, ...),
# outcome the poll's ("ok", "partial", "not_modified", "interrupted", "failed"). Never the source's
# name or URL: those are unbounded.
SOURCE_POLLS = Counter(
    "sie_source_polls_total", "Source polls by source type and outcome", ["source_type", "outcome"]
)
# Operator: scaler is the Deployment's component ("worker", "ocr-worker"); direction "up" or "down",
# counted only when the replica count changes.
OPERATOR_SCALE_DECISIONS = Counter(
    "sie_operator_scale_decisions_total", "Replica changes the operator made", ["scaler", "direction"]
)
# outcome: "replayed", "failed" (jobs of DeadLetterReplay resources) or "dry_run" (matched, not sent).
OPERATOR_REPLAYS = Counter("sie_operator_replays_total", "Dead-letter jobs handled by replays", ["outcome"])
# resource: the custom resource's kind in lower case ("ingestionsource", "deadletterreplay", ...).
OPERATOR_RECONCILE_ERRORS = Counter(
    "sie_operator_reconcile_errors_total", "Reconcile handler failures by resource kind", ["resource"]
)


# Processes name themselves at start-up; the `sie` command's short-lived runs (ingest, replay) keep this.
DEFAULT_COMPONENT = "cli"
_component = DEFAULT_COMPONENT


def set_component(component: str) -> None:
    """Name this process in `sie_errors_total{component}`; called once by the code that assembles it."""
    global _component
    _component = component


def process_component() -> str:
    return _component


def count_error(kind: str) -> None:
    """One error of `kind`, labelled with the process that hit it."""
    ERRORS.labels(component=_component, kind=kind).inc()


def source_label(source: str) -> str:
    """A bounded `source` label: names chosen by admins are kept, free-form per-request names are folded."""
    return source if len(source) <= 64 else "other"


class BuildInfoCollector(Collector):
    """`sie_build_info{version} 1`: the version each process runs (the deployment-completed alert reads it).

    A collector rather than a gauge: multiprocess files would report it once per process and
    lose it for pool processes that never set it.
    """

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("sie_build_info", "The SIE version this process runs", labels=["version"])
        info.add_metric([sie.__version__], 1)
        yield info


BUILD_INFO = BuildInfoCollector()
REGISTRY.register(BUILD_INFO)


def multiprocess_dir() -> Path | None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(directory) if directory else None


def _multiprocess_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(BUILD_INFO)
    return registry


def registry_for_exposition() -> CollectorRegistry | None:
    """The registry `/metrics` should render: all processes' values in multiprocess mode."""
    return _multiprocess_registry() if multiprocess_dir() is not None else None


def _remove_other_processes_files(directory: Path) -> int:
    """Wipe what earlier runs left, except this process's own files, which it holds open already.

    Values of processes that are gone would otherwise be summed into ours forever (an emptyDir
    outlives a container restart). Returns how many files were removed.
    """
    own_suffix = f"_{os.getpid()}.db"
    removed = 0
    for path in directory.iterdir():
        if path.is_file() and not path.name.endswith(own_suffix):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def start_worker_metrics_server(port: int | None = None) -> int | None:
    """Serve the metrics of every pool process from the worker's main process, on `METRICS_PORT`.

    Call it in the main process before the pool starts (Celery's `worker_init`). Returns the port
    it listens on, or None when the port is 0 or taken (logged: the scrape target then shows down).
    """
    port = settings.metrics_port if port is None else port
    if not port:
        return None
    directory = multiprocess_dir()
    if directory is None:
        log.warning(
            "worker_metrics_single_process",
            reason="PROMETHEUS_MULTIPROC_DIR is not set: only the main process's metrics are served",
        )
        registry = REGISTRY
    else:
        removed = _remove_other_processes_files(directory)
        log.info("worker_metrics_dir_wiped", directory=str(directory), files=removed)
        registry = _multiprocess_registry()
    try:
        # Every interface: Prometheus scrapes the pod from outside.
        server, _ = start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104
    except OSError as exc:
        log.error("worker_metrics_port_unavailable", port=port, error=str(exc))
        return None
    bound = int(server.server_port)
    log.info("worker_metrics_serving", port=bound, multiprocess=directory is not None)
    return bound


def mark_worker_process_dead(pid: int) -> None:
    """A pool process exits: drop its live gauges (its counters stay, so totals never go back)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


def render_latest() -> tuple[bytes, str]:
    registry = registry_for_exposition()
    payload = generate_latest(registry) if registry is not None else generate_latest()
    return payload, CONTENT_TYPE_LATEST
