"""The example Alertmanager configuration: valid, routed by severity, and inhibiting as documented.

The last test runs the real Alertmanager on 127.0.0.1 with the example's routes and inhibit rules,
its receivers pointed at a local capture server, and posts alerts shaped like SIE's.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bench.processes import answers_ok, free_port, wait_until
from tests.observability.support import ALERTMANAGER_FILE, RULES_FILE, require_binary

RECEIVER_FOR_SEVERITY = {"critical": "pager", "warning": "chat", "info": "null"}


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("amtool"), *args], capture_output=True, text=True, timeout=60)


def test_amtool_accepts_the_example_config() -> None:
    result = amtool("check-config", str(ALERTMANAGER_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 inhibit rules" in result.stdout and "3 receivers" in result.stdout


@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_each_severity_of_our_alerts_reaches_its_receiver(severity: str) -> None:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if rule["labels"]["severity"] == severity]
    assert alerts
    for rule in alerts:
        result = amtool(
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_FILE}",
            f"--verify.receivers={RECEIVER_FOR_SEVERITY[severity]}",
            f"alertname={rule['alert']}",
            f"severity={severity}",
            "service=worker",
        )
        assert result.returncode == 0, f"{rule['alert']}: {result.stdout}{result.stderr}"


def test_an_alert_without_severity_still_reaches_people() -> None:
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_FILE}",
        "--verify.receivers=chat",
        "alertname=X",
    )
    assert result.returncode == 0, result.stdout + result.stderr


class Capture(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CaptureHandler)
        self.received: list[tuple[str, dict[str, Any]]] = []


class CaptureHandler(BaseHTTPRequestHandler):
    server: Capture

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def capture() -> Iterator[Capture]:
    server = Capture()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def local_copy(tmp_path: Path, capture_url: str) -> Path:
    """The example config with the same routes and inhibit rules, notifying the capture server."""
    config = yaml.safe_load(ALERTMANAGER_FILE.read_text())
    config["route"].update(group_wait="1s", group_interval="1s")
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    routing_key = tmp_path / "pagerduty-routing-key"
    routing_key.write_text("test-routing-key")
    chat_url = tmp_path / "chat-webhook-url"
    chat_url.write_text(f"{capture_url}/chat")
    receivers["pager"]["pagerduty_configs"][0].update(
        routing_key_file=str(routing_key), url=f"{capture_url}/pager"
    )
    receivers["chat"]["slack_configs"][0].update(api_url_file=str(chat_url))
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def alertmanager(tmp_path: Path, capture: Capture) -> Iterator[str]:
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    config = local_copy(tmp_path, f"http://127.0.0.1:{capture.server_address[1]}")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers_ok(f"{url}/-/ready"), timeout=30, what="Alertmanager to start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def alert(name: str, severity: str, service: str, summary: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, "service": service},
        "annotations": {
            "summary": summary,
            "description": f"{summary} (test)",
            "runbook_url": "https://x/#y",
        },
    }


def test_critical_pages_warning_chats_info_stays_quiet_and_critical_inhibits_warning(
    alertmanager: str, capture: Capture
) -> None:
    alerts = [
        alert("SIEWorkerDown", "critical", "worker", "SIE worker w-1 is down"),
        alert("SIEQueueBacklogHigh", "warning", "worker", "Queue ingestion backlog is over 1000"),
        alert("SIEHttpLatencyHigh", "warning", "api", "API p95 latency is over 1 s"),
        alert("SIEWorkersScaled", "info", "worker", "The operator scaled worker up"),
    ]
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=5).status_code == 200

    def states() -> dict[str, str]:
        listed = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        return {item["labels"]["alertname"]: item["status"]["state"] for item in listed}

    wait_until(lambda: states().get("SIEQueueBacklogHigh") == "suppressed", timeout=30, what="inhibition")
    wait_until(
        lambda: {path for path, _ in capture.received} == {"/pager", "/chat"}, timeout=30, what="notices"
    )
    assert states() == {
        "SIEWorkerDown": "active",
        "SIEQueueBacklogHigh": "suppressed",
        "SIEHttpLatencyHigh": "active",
        "SIEWorkersScaled": "active",
    }

    pages = [body for path, body in capture.received if path == "/pager"]
    chats = json.dumps([body for path, body in capture.received if path == "/chat"])
    assert [page["payload"]["summary"] for page in pages] == ["SIE worker w-1 is down"]
    assert pages[0]["routing_key"] == "test-routing-key"
    assert "API p95 latency is over 1 s" in chats
    assert "Queue ingestion backlog" not in chats and "scaled" not in chats
