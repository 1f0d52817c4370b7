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

from bench.processes import api_server
from sie.core.engine.backlog import queue_backlog
from sie.core.engine.deadletter import entry_json
from sie.core.models import DeadLetter
from sie.core.queues import DEAD_LETTER_LIST, QUEUE_HIGH, QUEUE_NORMAL, QUEUE_OCR, TASK_PROCESS_JOBS
from sie.core.ratelimit import RedisRateLimiter
from tests.delivery.chart_render import REQUIRED_VALUES, render
from tests.observability.support import (
    REPO_ROOT,
    RULES_FILE,
    RUNBOOK,
    bash_block,
    commands,
    run_here,
    runbook_lines,
)


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
    key_ids = [
        re.search(r"key id (\w+),", run_here(f"sie api-key create --tenant {tenant}", **env))[1]
        for _ in range(2)
    ]
    placeholders = {
        "<tenant>": tenant,
        "<key id>": key_ids[0],
        "<old key id>": key_ids[1],
        "<error text>": "no such error",
    }
    expected_outputs = {
        "sie dead-letters replay": "0 jobs replayed",
        'sie dead-letters discard --error-contains "no such error" --dry-run': (
            "0 jobs would be discarded (dry run: nothing changed)"
        ),
        'sie dead-letters discard --error-contains "no such error" --max-jobs': "0 jobs discarded",
        "sie api-key update": f"updated {key_ids[0]}: rate limits normal=600/60,high=1200/60",
        "sie api-key revoke": f"revoked {key_ids[1]}",
    }
    checked = set()
    for line in to_run:
        for placeholder, value in placeholders.items():
            line = line.replace(placeholder, value)
        output = run_here(line, **env)
        for command, expected in expected_outputs.items():
            if line.startswith(command):
                assert output.strip() == expected, line
                checked.add(command)
    assert checked == set(expected_outputs)


def test_kubectl_commands_name_the_charts_deployments_and_ports() -> None:
    rendered = render(REQUIRED_VALUES)
    deployments = {manifest.name: manifest.body for manifest in rendered.of_kind("Deployment")}
    text = RUNBOOK.read_text()
    referenced = set(re.findall(r"deploy/([\w-]+)", text))
    referenced |= {name for names in re.findall(r"get deploy ([\w -]+)", text) for name in names.split()}
    assert referenced == {"sie-api", "sie-worker", "sie-ocr-worker", "sie-operator", "sie-scheduler"}
    assert referenced <= set(deployments)
    for name, remote in re.findall(r"port-forward deploy/([\w-]+) \d+:(\d+)", text):
        containers = deployments[name]["spec"]["template"]["spec"]["containers"]
        ports = {port["containerPort"] for container in containers for port in container.get("ports", [])}
        assert int(remote) in ports, f"{name} has no container port {remote}"


def test_the_curl_commands_answer_as_written() -> None:
    """The API's `curl` lines (the handbook's own among them), against the API started as the handbook
    starts it; a worker's metrics port (9808) needs a worker and is left to the worker tests."""
    api_lines = [line for line in runbook_lines() if line.startswith("curl ") and "localhost:8000" in line]
    assert len(api_lines) >= 4
    with api_server() as base_url:
        for line in [HANDBOOK_HEALTH_CHECK, *api_lines]:
            output = run_here(line.replace("http://localhost:8000", base_url))
            assert output.strip() and "error" not in output.lower(), f"{line}: {output}"
        # stdout, then curl's progress meter on stderr
        output = run_here(HANDBOOK_HEALTH_CHECK.replace("http://localhost:8000", base_url))
        health, _ = json.JSONDecoder().raw_decode(output)
        assert health["status"] == "ok", output


HANDBOOK_HEALTH_CHECK = "curl http://localhost:8000/health"
# Every command of the handbook's runbook, troubleshooting, scaling, deployment and security chapters
# (§2-§8), as the handbook prints it.
HANDBOOK_COMMANDS = [
    HANDBOOK_HEALTH_CHECK,
    "redis-cli ping",
    "pg_isready -h localhost -p 5432",
    "celery -A app.workers.celery_app inspect ping",
    "docker-compose up -d",
    "uvicorn app.main:app --host 0.0.0.0 --port 8000",
    "celery -A app.workers.celery_app worker --loglevel=info --concurrency=4",
    "docker-compose down",
    "celery -A app.workers.celery_app control shutdown",
    "docker-compose logs -f api",
    "docker-compose logs -f | jq 'select(.level == \"error\")'",
    "redis-cli LLEN ingestion",
    "celery -A app.workers.celery_app inspect active",
    "docker-compose logs worker | tail -100",
    "docker-compose restart worker",
    "docker stats --no-stream | grep worker",
    "celery -A app.workers.celery_app inspect stats",
    "cat logs/*.json | jq 'select(.event == \"nlp_processed\") | .duration_ms'"
    " | awk '{sum+=$1; count++} END {print sum/count}'",
    "redis-cli LLEN dead_letter",
    "redis-cli LRANGE dead_letter 0 10",
    'redis-cli KEYS "rate_limit:*"',
    'redis-cli GET "rate_limit:<client_key>"',
    "docker-compose up -d --scale worker=4",
    "kubectl scale deployment sie-worker --replicas=8",
    "flyctl releases rollback --app sie-backend <version>",
    "alembic upgrade head",
    "alembic downgrade -1",
    "alembic history",
    'curl -H "X-API-Key: your-api-key" http://api.sie.example.com/ingest',
]


def handbook_table() -> list[list[str]]:
    """The rows of the runbook's table of the handbook's commands: handbook, here, run by."""
    section = RUNBOOK.read_text().split("## The handbook's commands", 1)[1].split("\n## ", 1)[0]
    rows = [
        line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| Handbook")
    ]
    return [[cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_every_handbook_command_has_its_form_here_and_a_test_that_runs_it() -> None:
    rows = handbook_table()
    quoted = {handbook.strip("`") for handbook, _, _ in rows}
    assert not [command for command in HANDBOOK_COMMANDS if command not in quoted]
    for handbook, here, run_by in rows:
        assert here, handbook
        tests = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", run_by)
        assert tests or run_by.startswith("not run here: "), f"{handbook}: no test named"
        for path, name in tests:
            assert re.search(rf"^def {name}\(", (REPO_ROOT / path).read_text(), re.M), f"{path}::{name}"
