"""No key, secret or connection password in any log line, through a normal ingest and its failures.

The API and a worker run as processes on the private PostgreSQL and Redis, both with passwords in
their URLs. The test drives the ordinary paths and the failing ones (wrong keys, a URL with
credentials that fails, a source with an auth header, Redis and PostgreSQL going away and coming
back), captures everything both processes write, and searches it for every secret involved.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from bench.processes import wait_until
from tests.reliability.stack import Stack, assert_no_secret_in_logs, http_site
from tests.utils.site import QuietHandler

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

URL_PASSWORD = f"url-pass-{secrets.token_hex(8)}"
BEARER_TOKEN = f"token-{secrets.token_hex(12)}"


class Site(QuietHandler):
    """A feed of two articles; every page says whether the source's auth header reached it."""

    authorized: list[str] = []

    def do_GET(self) -> None:
        if self.headers.get("Authorization") == f"Bearer {BEARER_TOKEN}":
            self.authorized.append(self.path)
        if self.path == "/feed.xml":
            links = "".join(
                f"<item><title>Article {n}</title><link>http://127.0.0.1:{self.server.server_port}/article-{n}"
                "</link></item>"
                for n in (1, 2)
            )
            self.send_body(200, "application/rss+xml", f'<rss version="2.0"><channel>{links}</channel></rss>')
        elif self.path.startswith("/article-"):
            self.send_body(
                200, "text/html", f"<html><body><p>Harbour news {self.path} from Gdansk.</p></body></html>"
            )
        else:
            self.send_body(404, "text/plain", "not found")


@pytest.fixture
def site() -> Iterator[str]:
    """The site's host and port (the test puts credentials in front of them)."""
    Site.authorized = []
    with http_site(Site) as base_url:
        yield base_url.removeprefix("http://")


def test_no_secret_reaches_a_log_line(stack: Stack, site: str) -> None:
    admin = stack.make_key(admin=True)
    key_secret = admin.plain.split("_", 2)[2]
    plausible = f"sie_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    wrong_secret = f"sie_{admin.key_id}_{secrets.token_urlsafe(32)}"
    with (
        stack.api() as (api_url, _),
        stack.worker(),
        httpx.Client(base_url=api_url, headers=admin.headers, timeout=30) as client,
    ):
        for index in range(10):
            assert (
                client.post("/v1/documents", json={"text": f"Routine note {index} on Oslo."}).status_code
                == 202
            )
        failing = client.post("/v1/documents", json={"url": f"http://reader:{URL_PASSWORD}@{site}/missing"})
        for presented in (plausible, wrong_secret, admin.plain + "x"):
            assert client.get("/v1/search", headers={"X-API-Key": presented}).status_code == 401
        source = {"type": "rss", "url": f"http://{site}/feed.xml", "auth_header": f"Bearer {BEARER_TOKEN}"}
        assert client.put("/v1/sources/harbour", json=source).status_code == 201
        assert client.post("/v1/sources/harbour/sync", params={"wait": True}).status_code == 200

        stack.redis.stop()
        assert client.post("/v1/documents", json={"text": "During the Redis outage."}).status_code == 503
        time.sleep(3)
        stack.redis.start()
        stack.postgres.stop()
        assert client.post("/v1/documents", json={"text": "During the database outage."}).status_code == 503
        time.sleep(3)
        stack.postgres.start()

        wait_until(
            lambda: stack.job_statuses(admin.tenant).get("done", 0) == 12,
            timeout=180,
            what="the ingest settled",
        )
        failed = client.get(f"/v1/jobs/{failing.json()['job_id']}").json()
        time.sleep(2)  # a few more relay cycles, logged after the outages

    assert failed["status"] == "failed" and "404" in failed["error"] and URL_PASSWORD not in failed["error"]
    assert "/article-1" in Site.authorized  # the token was used, so it had every chance to leak
    assert_no_secret_in_logs(
        stack,
        {
            "admin API key": admin.plain,
            "admin key's secret": key_secret,
            "a presented unknown key": plausible.split("_", 2)[2],
            "a presented wrong secret": wrong_secret.split("_", 2)[2],
            "password in a fetched URL": URL_PASSWORD,
            "source auth token": BEARER_TOKEN,
        },
    )
