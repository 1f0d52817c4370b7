"""SSRF through the whole path: a URL document accepted by the API, whose page redirects inward.

`tests/unit/test_fetch.py` holds the guard to every address class and spelling with a stub resolver
and transport. Here the document goes in through `POST /v1/documents`, the job runs as the worker
runs it, and a real server on 127.0.0.1 answers 302 to the cloud metadata address (or another
inside address, in another spelling). Names resolve through a stub, and this process's sockets
refuse any destination outside loopback (`loopback_only`), recording it: the job must end `failed`
with `fetch_refused` and no connection may ever have been tried.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from sie.core.fetch import client as fetch_client
from tests.reliability.running import run_job
from tests.reliability.stack import http_site
from tests.utils.api import make_key
from tests.worker.test_job_runner import RecordingQueue

# What the stub resolver knows; every other name does not exist.
NAMES = {
    "news.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "intranet.example": ["10.20.30.40"],
    "both.example": ["93.184.215.14", "169.254.169.254"],
    "ula.example": ["fd00::5"],
}
INSIDE_ADDRESSES = {
    "169.254.169.254",
    "10.20.30.40",
    "fd00::5",
    "93.184.215.14",
    "fe80::1",
    "100.100.100.200",
    "192.0.0.192",
}


class Redirector(BaseHTTPRequestHandler):
    """`/start?to=URL` answers 302 to URL; records every request it gets."""

    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        target = parse_qs(urlsplit(self.path).query).get("to", ["/"])[0]
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture(scope="module")
def redirector() -> Iterator[int]:
    """The redirector's port (tests reach it by names the stub resolver maps to 127.0.0.1)."""
    with http_site(Redirector) as base_url:
        yield int(base_url.rsplit(":", 1)[1])


@pytest.fixture(autouse=True)
def stub_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    def resolve(host: str) -> list[str]:
        if host not in NAMES:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return NAMES[host]

    # The client's default resolver, looked up when each fetch starts.
    monkeypatch.setattr(fetch_client, "resolve_with_getaddrinfo", resolve)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "cloud metadata"),
        ("http://2852039166/latest/meta-data/", "cloud metadata"),  # decimal
        ("http://0xa9.0xfe.0xa9.0xfe/latest/", "cloud metadata"),  # hex
        ("http://0251.0376.0251.0376/latest/", "cloud metadata"),  # octal
        ("http://169.254.43518/latest/", "cloud metadata"),  # short form
        ("http://[::ffff:169.254.169.254]/latest/", "cloud metadata"),  # IPv4-mapped IPv6
        ("http://metadata.example/latest/meta-data/", "cloud metadata"),
        ("http://both.example/", "cloud metadata"),  # one bad address among good ones is enough
        ("http://intranet.example:8080/admin", "private"),
        ("http://ula.example/", "unique-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),  # Alibaba Cloud
        ("http://192.0.0.192/opc/v2/instance/", "cloud metadata"),  # Oracle Cloud
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "only http and https"),
    ],
)
def test_a_redirect_inward_fails_the_job_without_a_packet_sent(
    location: str,
    reason: str,
    redirector: int,
    client: TestClient,
    recording_queue: RecordingQueue,
    loopback_only: list[str],
) -> None:
    key = make_key()
    Redirector.seen = []
    url = f"http://news.example:{redirector}/start?to={quote(location, safe='')}"
    accepted = client.post("/v1/documents", json={"url": url}, headers=key.headers)
    assert accepted.status_code == 202

    job = run_job(uuid.UUID(accepted.json()["job_id"]), recording_queue)

    assert job.status == "failed" and job.error_kind == "fetch_refused"
    assert reason in (job.error or "")
    assert Redirector.seen == [f"/start?to={quote(location, safe='')}"]
    assert not [attempt for attempt in loopback_only if attempt.split()[-1] in INSIDE_ADDRESSES]
    shown = client.get(f"/v1/jobs/{job.id}", headers=key.headers).json()
    assert shown["status"] == "failed" and reason in shown["error"]


def test_a_host_name_for_the_metadata_address_is_refused_without_a_redirect(
    client: TestClient, recording_queue: RecordingQueue, loopback_only: list[str]
) -> None:
    """The document's own URL names the metadata address through DNS."""
    key = make_key()
    accepted = client.post(
        "/v1/documents", json={"url": "http://metadata.example/latest/"}, headers=key.headers
    )
    job = run_job(uuid.UUID(accepted.json()["job_id"]), recording_queue)
    assert job.status == "failed" and job.error_kind == "fetch_refused"
    assert "169.254.169.254" not in " ".join(loopback_only)
