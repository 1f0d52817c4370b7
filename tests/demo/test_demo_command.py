"""`sie demo`: the bundled corpus through the whole pipeline on embedded defaults, then `--serve`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from bench.processes import answers_ok, free_port, wait_until
from sie.demo.corpus import corpus_inputs

pytestmark = pytest.mark.slow

SIE = str(Path(sys.executable).with_name("sie"))
# Addresses where nothing listens: if the demo used the caller's service settings, it would fail.
DEAD_SERVICES = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "MEILISEARCH_URL": "http://127.0.0.1:1",
}


def demo_environment() -> dict[str, str]:
    """The caller's environment without this test session's PostgreSQL and Redis."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "API_SECRET_KEY", "SEARCH_BACKEND")
    }
    return {**env, **DEAD_SERVICES, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def test_demo_reports_the_whole_corpus_then_serves_the_api(tmp_path: Path) -> None:
    # A project .env in the caller's directory must not point the demo at external services either.
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://postgres@127.0.0.1:1/from-dotenv\n")
    data_dir = tmp_path / "demo-data"
    port = free_port()
    process = subprocess.Popen(
        [SIE, "demo", "--serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=tmp_path,
        env=demo_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        wait_until(
            lambda: any("Press Ctrl-C to stop." in line for line in lines) or process.poll() is not None,
            timeout=240,
            what="the demo report",
        )
        output = "".join(lines)
        assert process.poll() is None, output

        for section in (
            "Ingestion",
            "Pipeline stages",
            "Documents",
            "Top entities",
            "Sentiment",
            "Search: 'solar'",
        ):
            assert section in output, output
        documents = corpus_inputs()[0].total
        assert f"accepted {documents} (duplicates at submit 0), rejected 0" in output
        # The syndicated copy of the census article is the corpus's one deliberate duplicate.
        assert f"done {documents - 1}  duplicate 1  failed 0" in output
        for stage in ("extract", "nlp", "store", "index"):
            runs, errors = re.search(rf"\b{stage}\b\W+(\d+)\W+(\d+)\W", output).groups()
            assert int(runs) > 0 and int(errors) == 0, (stage, runs, errors)
        sentiment = dict(re.findall(r"^(positive|neutral|negative)\s+(\d+)", output, re.MULTILINE))
        assert all(int(sentiment[label]) > 0 for label in ("positive", "neutral", "negative")), sentiment
        assert int(re.search(r"(\d+) hits; the first", output).group(1)) >= 3
        assert "demo finished" in output and "exit status 0" in output
        assert (data_dir / "sie.db").is_file()

        api_key = re.search(r"demo API key \(tenant 'demo', shown once\): (sie_\S+)", output).group(1)
        base_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers_ok(f"{base_url}/health", timeout=2), timeout=60, what="the demo API")
        health = httpx.get(f"{base_url}/health").json()
        assert health["queue"] == "in-process" and health["search_backend"] == "database"
        # The console's address is printed, and the console is served there (it signs in with the key).
        assert re.search(r"Console: (\S+)", output).group(1) == f"{base_url}/ui/"
        assert "<title>SIE console</title>" in httpx.get(f"{base_url}/ui/").text
        hits = httpx.get(
            f"{base_url}/v1/search", params={"q": "Kisumu"}, headers={"X-API-Key": api_key}
        ).json()["hits"]
        assert hits and "<mark>Kisumu</mark>" in hits[0]["snippet"]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        exit_code = process.wait(timeout=60)
        reader.join(timeout=10)
    assert exit_code == 0, "".join(lines)
