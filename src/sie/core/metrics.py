"""Prometheus metrics: the handbook's names (§6.1) and what the dashboards read.

Label values are always bounded (queue, stage, outcome, route template, status class, source
name): never a document id or a raw URL. Workers run several processes: when
`PROMETHEUS_MULTIPROC_DIR` is set, prometheus-client's multiprocess mode aggregates them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

QUEUE_LENGTH = Gauge(
    "sie_queue_length",
    "True backlog per queue: waiting messages (all priority sub-lists) plus reserved and running jobs",
    ["queue"],
    multiprocess_mode="mostrecent",
)
DLQ_LENGTH = Gauge("sie_dlq_length", "Jobs in the dead-letter queue", multiprocess_mode="mostrecent")
JOB_DURATION = Histogram(
    "sie_job_duration_seconds",
    "Time spent per pipeline stage and for the whole job",
    ["stage", "outcome"],
    buckets=JOB_BUCKETS,
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


def registry_for_exposition() -> CollectorRegistry | None:
    """The registry `/metrics` should render: all processes' values in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return None


def render_latest() -> tuple[bytes, str]:
    registry = registry_for_exposition()
    payload = generate_latest(registry) if registry is not None else generate_latest()
    return payload, CONTENT_TYPE_LATEST
