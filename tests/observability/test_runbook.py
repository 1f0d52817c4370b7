"""docs/runbook.md: a section per alert, and its commands work as written against our names.

Commands prefixed `kubectl -n sie exec deploy/<name> --` run here without the prefix: that is what
they run inside the pod. Commands that need a cluster (`kubectl get`, `kubectl logs`) are not run.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
import yaml

from sie.core.engine.backlog import queue_backlog
from sie.core.engine.deadletter import entry_json
from sie.core.models import DeadLetter
from sie.core.queues import DEAD_LETTER_LIST, QUEUE_HIGH, QUEUE_NORMAL, QUEUE_OCR, TASK_PROCESS_JOBS
from sie.core.ratelimit import RedisRateLimiter
from tests.delivery.chart_render import REQUIRED_VALUES, render
from tests.observability.support import RULES_FILE, RUNBOOK, bash_block, commands, run_here, runbook_lines


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings() -> list[str]:
    return [line.lstrip("#").strip() for line in RUNBOOK.read_text().splitlines() if line.startswith("#")]


def test_every_alert_has_its_section_and_every_link_lands() -> None:
    anchors = {github_anchor(heading) for heading in headings()}
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        assert rule["alert"] in headings(), f"no runbook section for {rule['alert']}"
        assert rule["annotations"]["runbook_url"].rsplit("#", 1)[1] in anchors, rule["alert"]
    for link in re.findall(r"\]\(#([^)]+)\)", RUNBOOK.read_text()):
        assert link in anchors, f"broken link #{link}"


def test_the_full_backlog_command_agrees_with_the_metric(broker: redis.Redis, producer: Any) -> None:
    for queue, priorities in (
        (QUEUE_NORMAL, [None, 0, 3, 6, 9, 9]),
        (QUEUE_HIGH, [None, 9]),
        (QUEUE_OCR, [5]),
    ):
        for priority in priorities:
            producer.send_task(TASK_PROCESS_JOBS, args=[["job"]], queue=queue, priority=priority)
    with producer.connection_for_read() as connection:
        for queue in (QUEUE_NORMAL, QUEUE_NORMAL, QUEUE_OCR):
            assert connection.default_channel.basic_get(queue) is not None
        output = run_here(bash_block("HVALS unacked"))
        expected = queue_backlog(broker)

    reported = {}
    for line in output.splitlines():
        queue, *fields = line.split()
        reported[queue] = {key: int(value) for key, value in (field.split("=") for field in fields)}
    assert reported == {
        queue: {"waiting": backlog.waiting, "reserved": backlog.reserved, "total": backlog.total}
        for queue, backlog in expected.items()
    }
    assert reported[QUEUE_NORMAL] == {"waiting": 4, "reserved": 2, "total": 6}
    assert commands(bash_block("python -m sie.core.engine.backlog"), "python -m sie.core.engine.backlog")


def dead_letter(error: str, kind: str) -> DeadLetter:
    return DeadLetter(
        id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        tenant="acme",
        queue=QUEUE_NORMAL,
        task=TASK_PROCESS_JOBS,
        source="api",
        error=error,
        error_kind=kind,
        attempts=6,
        created_at=datetime.now(UTC),
    )


def test_the_dead_letter_commands_read_our_list(broker: redis.Redis) -> None:
    letters = [
        dead_letter("FetchTransientError: ConnectError", "fetch_transient"),
        dead_letter("FetchTransientError: ReadTimeout", "fetch_transient"),
        dead_letter("ServiceUnavailable: search unavailable", "service_unavailable"),
    ]
    broker.rpush(DEAD_LETTER_LIST, *(entry_json(letter) for letter in letters))
    block = bash_block("LLEN dead_letter")
    length, first_entries, by_kind = commands(block, "redis-cli")
    assert run_here(length).strip() == "3"
    assert [json.loads(line)["job_id"] for line in run_here(first_entries).split("\n") if line] == [
        str(letter.job_id) for letter in letters
    ]
    assert [line.split() for line in run_here(by_kind).splitlines()] == [
        ["2", "fetch_transient"],
        ["1", "service_unavailable"],
    ]
    (listing,) = commands(block, "sie dead-letters list")
    run_here(listing)


def test_the_rate_limit_commands_show_a_keys_window(broker: redis.Redis) -> None:
    key_id = uuid.uuid4().hex[:12]
    limiter = RedisRateLimiter(broker)
    for _ in range(4):
        limiter.hit(key_id, "normal", 1, None)
    scan, get, ttl, _listing = commands(bash_block("rate_limit:*"), "")
    assert f"rate_limit:{key_id}:normal" in run_here(scan).split()
    assert run_here(get.replace("<key id>", key_id)).strip() == "4"
    assert 0 < int(run_here(ttl.replace("<key id>", key_id))) <= 60
    broker.delete(f"rate_limit:{key_id}:normal")


def test_every_sie_redis_and_postgres_command_runs_as_written(
    broker: redis.Redis, scratch_database: str
) -> None:
    runnable = ("redis-cli ", "psql ", "pg_isready ", "sie ", "python -m ")
    to_run = [
        line for line in runbook_lines() if line.startswith(runnable) and not line.startswith("sie serve")
    ]
    assert to_run[0] == 'redis-cli -u "$REDIS_URL" ping' and len(to_run) > 15

    tenant = f"runbook-{uuid.uuid4().hex[:6]}"
    env = {"DATABASE_URL": scratch_database}
    run_here("sie migrate", **env)
    old_key = run_here(f"sie api-key create --tenant {tenant}", **env)
    placeholders = {
        "<tenant>": tenant,
        "<key id>": uuid.uuid4().hex[:12],
        "<old key id>": re.search(r"key id (\w+),", old_key)[1],
        "<error text>": "no such error",
    }
    for line in to_run:
        for placeholder, value in placeholders.items():
            line = line.replace(placeholder, value)
        output = run_here(line, **env)
        if line.startswith("sie dead-letters replay"):
            assert output.strip() == "0 jobs replayed"
        if line.startswith("sie api-key revoke"):
            assert output.strip() == f"revoked {placeholders['<old key id>']}"


def test_kubectl_commands_name_the_charts_deployments_and_ports() -> None:
    rendered = render(REQUIRED_VALUES)
    deployments = {manifest.name: manifest.body for manifest in rendered.of_kind("Deployment")}
    text = RUNBOOK.read_text()
    referenced = set(re.findall(r"deploy/([\w-]+)", text))
    referenced |= {name for names in re.findall(r"get deploy ([\w -]+)", text) for name in names.split()}
    assert referenced == {"sie-api", "sie-worker", "sie-ocr-worker", "sie-operator"}
    assert referenced <= set(deployments)
    for name, remote in re.findall(r"port-forward deploy/([\w-]+) \d+:(\d+)", text):
        containers = deployments[name]["spec"]["template"]["spec"]["containers"]
        ports = {port["containerPort"] for container in containers for port in container.get("ports", [])}
        assert int(remote) in ports, f"{name} has no container port {remote}"
