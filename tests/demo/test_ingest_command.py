"""`sie ingest`: files, folders, feed files and URLs, pushed to a real API or straight into local mode."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.processes import api_server, celery_worker
from sie.ingest_client import collect_inputs, run
from tests.utils.api import make_key
from tests.utils.files import make_text_pdf

SIE = str(Path(sys.executable).with_name("sie"))

PAGE = """<!DOCTYPE html><html><head><title>Harbour news</title><script>track('view')</script></head>
<body><nav><a href="/">Home</a> | <a href="/sport">Sport</a></nav>
<article><h1>Ferry service returns</h1><p>{marker} The ferry between Helsinki and Tallinn resumed on Monday,
and passengers from Finland and Estonia were delighted with the faster crossing.</p></article>
<footer>Copyright Harbour News</footer></body></html>"""

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test Wire</title><link>https://wire.example.org/</link>
<description>test</description>
<item><title>Bridge opens</title><link>https://wire.example.org/1</link><guid>wire-1</guid>
<description><![CDATA[<p>{marker} A new bridge opened in Lyon, France,
and residents celebrated happily.</p>]]></description></item>
<item><title>Storm damage</title><link>https://wire.example.org/2</link><guid>wire-2</guid>
<description>{marker} A violent storm damaged roofs in Porto, Portugal,
and residents were furious.</description></item>
</channel></rss>"""


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.bin", os.urandom(2048))
    return buffer.getvalue()


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, str]:
    """A folder of 4 files plus a 2-item feed (6 documents), a hidden file and an unsupported archive."""
    marker = f"marker{uuid.uuid4().hex[:10]}"
    folder = tmp_path / "inbox"
    (folder / "nested").mkdir(parents=True)
    (folder / "note.txt").write_text(f"{marker} Angela Merkel met officials of Siemens in Berlin on Tuesday.")
    (folder / "page.html").write_text(PAGE.format(marker=marker))
    (folder / "report.pdf").write_bytes(
        make_text_pdf([f"{marker} Quarterly report", "Revenue at Nokia in Espoo rose sharply."])
    )
    (folder / "nested" / "more.txt").write_text(f"{marker} The museum in Krakow reopened to visitors.")
    (folder / "wire.rss.xml").write_text(FEED.format(marker=marker))
    (folder / ".draft.txt").write_text("a hidden draft that must not be sent")
    (folder / "archive.zip").write_bytes(zip_archive())
    return folder, marker


def test_folders_expand_recursively_feeds_into_items_and_hidden_files_are_skipped(corpus) -> None:
    folder, _ = corpus
    inputs = collect_inputs([str(folder)])
    assert sorted(upload.path.name for upload in inputs.uploads) == [
        "archive.zip",
        "more.txt",
        "note.txt",
        "page.html",
        "report.pdf",
    ]
    items = [document.body for document in inputs.documents]
    assert [item["title"] for item in items] == ["Bridge opens", "Storm damage"]
    assert items[0]["source"] == "feed:wire" and items[0]["external_id"] == "wire-1"
    # The item's HTML is reduced to its text before it is sent.
    assert "<p>" not in items[0]["text"] and "Lyon, France" in items[0]["text"]


def test_missing_paths_and_malformed_urls_are_rejected_with_a_reason(tmp_path: Path) -> None:
    inputs = collect_inputs([str(tmp_path / "absent.txt"), "https://", "https://example.org/article"])
    reasons = {outcome.label: outcome.reason for outcome in inputs.rejected}
    assert "no such file" in reasons[str(tmp_path / "absent.txt")]
    assert "url" in reasons["https://"].lower()
    assert [document.body["url"] for document in inputs.documents] == ["https://example.org/article"]


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_server(log_path=tmp_path_factory.mktemp("ingest-api") / "api.log") as url:
        yield url


@pytest.mark.slow
def test_remote_ingest_sends_everything_waits_for_workers_and_names_rejections(
    api_url: str, corpus, tmp_path: Path
) -> None:
    folder, marker = corpus
    key = make_key()
    with celery_worker(concurrency=1, log_path=tmp_path / "worker.log"):
        result = subprocess.run(
            [SIE, "ingest", str(folder), "--wait", "--timeout", "180"],
            env={**os.environ, "SIE_API_URL": api_url, "SIE_API_KEY": key.plain, "COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 1, result.stdout + result.stderr  # one input was rejected
    assert "accepted 6, duplicates 0, rejected 1" in result.stdout, result.stdout
    assert "jobs done" in result.stdout and "6" in result.stdout.split("jobs done", 1)[1].split("\n", 1)[0]
    rejected_line = next(line for line in result.stdout.splitlines() if "archive.zip" in line)
    assert "415" in rejected_line and "unsupported file type" in rejected_line

    found = httpx.get(
        f"{api_url}/v1/search", params={"q": marker, "limit": 20}, headers=key.headers, timeout=10
    ).json()
    assert found["total"] == 6
    titles = {hit["title"] for hit in found["hits"]}
    assert {"Bridge opens", "Storm damage"} <= titles


@pytest.mark.slow
def test_remote_ingest_waits_out_rate_limits(api_url: str, tmp_path: Path, capsys) -> None:
    key = make_key(rate_limits={"normal": {"requests": 2, "period": 2}})
    for number in range(5):
        (tmp_path / f"doc{number}.txt").write_text(f"Document {number} {uuid.uuid4().hex} about Oslo.")
    started = time.monotonic()
    exit_code = run(
        [str(tmp_path)],
        api_url=api_url,
        api_key=key.plain,
        tenant="unused",
        source=None,
        priority="normal",
        wait=False,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert exit_code == 0
    assert "accepted 5, duplicates 0, rejected 0" in capsys.readouterr().out
    # Two uploads per 2-second window: the last ones went through only after Retry-After.
    assert elapsed >= 2


def test_remote_ingest_stops_with_a_clear_message_when_the_key_is_refused(
    api_url: str, corpus, capsys
) -> None:
    folder, _ = corpus
    exit_code = run(
        [str(folder)],
        api_url=api_url,
        api_key="sie_notarealkey_secret",
        tenant="unused",
        source=None,
        priority="normal",
        wait=False,
        timeout=10,
    )
    assert exit_code == 2
    assert "refused the key (401" in capsys.readouterr().err


@pytest.mark.slow
def test_local_mode_ingest_runs_jobs_in_process_before_exiting(corpus, tmp_path: Path) -> None:
    folder, marker = corpus
    data_dir = tmp_path / "local"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "API_SECRET_KEY")
    }
    result = subprocess.run(
        [SIE, "ingest", str(folder), "--tenant", "newsroom"],
        env={**env, "SIE_DATA_DIR": str(data_dir), "LOG_LEVEL": "warning", "COLUMNS": "250"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "accepted 6, duplicates 0, rejected 1" in result.stdout
    assert "unsupported file type" in result.stdout
    # Without --wait the command still lets its in-process jobs finish before it exits.
    with sqlite3.connect(data_dir / "sie.db") as database:
        statuses = database.execute(
            "SELECT status, count(*) FROM documents WHERE tenant = 'newsroom' GROUP BY status"
        ).fetchall()
        indexed = database.execute(
            "SELECT count(*) FROM documents "
            "WHERE tenant = 'newsroom' AND indexed_at IS NOT NULL AND text LIKE ?",
            (f"%{marker}%",),
        ).fetchone()[0]
    assert statuses == [("done", 6)]
    assert indexed == 6
