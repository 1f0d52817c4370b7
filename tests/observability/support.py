"""Paths and helpers the observability tests share: the shipped files, the runbook's commands."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = REPO_ROOT / "charts/sie/files/prometheus/sie-alerts.rules.yml"
ALERTMANAGER_FILE = REPO_ROOT / "charts/sie/files/alertmanager/alertmanager.yml"
DASHBOARDS_DIR = REPO_ROOT / "charts/sie/dashboards"
RUNBOOK = REPO_ROOT / "docs/runbook.md"

HANDBOOK_DASHBOARDS = {
    "sie-overview.json": "SIE Overview",
    "job-processing.json": "Job Processing",
    "nlp-performance.json": "NLP Performance",
    "api-health.json": "API Health",
}
# What Grafana substitutes before a query reaches Prometheus.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s"}
# A runbook command run in a pod; the tests run what follows the prefix here.
IN_POD = re.compile(r"^kubectl -n sie exec deploy/sie-(?:api|worker|ocr-worker) -- ")


def require_binary(name: str) -> str:
    """The binary's path; the test is skipped only when it is not installed (CI installs it)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)")
    return path


def dashboards() -> dict[str, dict[str, Any]]:
    return {name: json.loads((DASHBOARDS_DIR / name).read_text()) for name in HANDBOOK_DASHBOARDS}


def panel_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


def as_promql(expr: str) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return expr


def runbook_lines() -> list[str]:
    """Every line of the runbook's bash blocks, in-pod prefixes removed."""
    return [
        IN_POD.sub("", line)
        for block in re.findall(r"```bash\n(.*?)```", RUNBOOK.read_text(), re.S)
        for line in block.splitlines()
    ]


def bash_block(containing: str) -> str:
    blocks = [
        block for block in re.findall(r"```bash\n(.*?)```", RUNBOOK.read_text(), re.S) if containing in block
    ]
    assert len(blocks) == 1, f"expected one runbook block with {containing!r}, found {len(blocks)}"
    return blocks[0]


def commands(block: str, starting: str) -> list[str]:
    """The block's commands that start with `starting` (after an in-pod prefix, if any)."""
    lines = [IN_POD.sub("", line) for line in block.splitlines()]
    return [line for line in lines if line.startswith(starting)]


def run_here(command: str, **env: str) -> str:
    """Run a runbook command with bash, the project's tools first on PATH; its stdout and stderr."""
    environment = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}", **env}
    result = subprocess.run(
        ["bash", "-c", command], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr
