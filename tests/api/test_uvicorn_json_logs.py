"""The handbook's plain `uvicorn sie_api.main:app` (no `--log-config`, no `sie serve`) writes only JSON
lines, uvicorn's own included, so the handbook's `jq` recipes read every line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.processes import REPO_ROOT, answers_ok, free_port, wait_until
from tests.utils.api import make_key


def run_handbook_uvicorn(tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Start the API as the handbook does, send it a few requests, stop it; every line it wrote."""
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "sie_api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=stdout,
            stderr=stderr,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: answers_ok(f"{base}/livez"), timeout=90, what="the API to start")
            key = make_key()
            assert httpx.get(f"{base}/v1/search", headers={"X-API-Key": key.plain}).status_code == 200
            assert httpx.get(f"{base}/v1/search").status_code == 401
            assert httpx.get(f"{base}/no-such-route").status_code == 404
            assert (
                httpx.post(f"{base}/v1/documents", json={}, headers={"X-API-Key": key.plain}).status_code
                == 422
            )
            httpx.get(f"{base}/health")
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn logs its shutdown too
            process.wait(timeout=30)
    return [line for path in (out, err) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("debug", ["false", "true"])
def test_plain_uvicorn_writes_only_json_lines(tmp_path: Path, debug: str) -> None:
    lines = run_handbook_uvicorn(tmp_path, {"DEBUG": debug})
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}")
    assert all("event" in record and "level" in record for record in records), records
    events = [record["event"] for record in records]
    # uvicorn's own lines, the app's start-up and one line per request: all of them JSON.
    assert any(event.startswith("Started server process") for event in events), events
    assert "api_started" in events and "Shutting down" in events
    assert [r["status"] for r in records if r["event"] == "http_request"] == [200, 401, 404, 422]
