"""`sie_errors_total{component}` names the process that did the work, not the module that counted it:
the accept path's outbox reports `component="scheduler"` when the scheduler runs it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from sie.cli import app
from sie.core import metrics
from sie.core.engine import scheduler
from sie.core.engine.outbox import Submission, enqueue_new
from sie.core.errors import ServiceUnavailable
from sie.core.queues import QUEUE_NORMAL


class DownQueue:
    """The broker is down: every enqueue fails the way CeleryQueue's does."""

    name = "down"

    def enqueue(self, queue: str, job_ids, *, countdown: float = 0) -> None:
        raise ServiceUnavailable("redis", "ConnectionError")

    def check(self) -> None:
        return None


def deferred_errors(component: str) -> float:
    labels = {"component": component, "kind": "enqueue_deferred"}
    return metrics.REGISTRY.get_sample_value("sie_errors_total", labels) or 0.0


@pytest.fixture(autouse=True)
def _restore_component() -> Iterator[None]:
    previous = metrics.process_component()
    yield
    metrics.set_component(previous)


def test_the_scheduler_process_labels_its_enqueue_errors_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    def poll_one_item() -> list[object]:
        # What a poll does with a new item once its rows are committed: hand its job to the outbox.
        submission = Submission(uuid.uuid4(), uuid.uuid4(), status="pending", queue=QUEUE_NORMAL)
        assert enqueue_new(DownQueue(), [submission]) is False
        return []

    monkeypatch.setattr(scheduler, "run_due_sources", poll_one_item)
    before = {component: deferred_errors(component) for component in ("scheduler", "api", "cli")}

    result = CliRunner().invoke(app, ["scheduler", "--once"])

    assert result.exit_code == 0, result.output
    assert deferred_errors("scheduler") == before["scheduler"] + 1
    assert deferred_errors("api") == before["api"] and deferred_errors("cli") == before["cli"]
    exposed = metrics.render_latest()[0].decode()
    assert 'sie_errors_total{component="scheduler",kind="enqueue_deferred"}' in exposed


def test_each_process_counts_under_its_own_name() -> None:
    for component in ("api", "worker", "ocr-worker", "relay"):
        metrics.set_component(component)
        before = metrics.REGISTRY.get_sample_value(
            "sie_errors_total", {"component": component, "kind": "index_unavailable"}
        )
        metrics.count_error("index_unavailable")
        after = metrics.REGISTRY.get_sample_value(
            "sie_errors_total", {"component": component, "kind": "index_unavailable"}
        )
        assert after == (before or 0.0) + 1
