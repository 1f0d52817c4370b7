"""Hostile content: each bomb is refused with a clear error, in bounded time and memory.

What the workers do with content (fetch, extract, OCR, feed parsing) runs in a fresh process
(`bounded.measure`), so its wall time and peak-memory growth are its own. What the API does with
a request body is measured on a real API process, or answered by the in-process API.
"""

from __future__ import annotations

import gzip
import os
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bench.processes import api_process
from sie.core.config import settings
from sie.core.errors import FetchFailed, UnsupportedContent
from sie.core.fetch import fetch_url
from tests.reliability.bombs import many_page_pdf, png_claiming
from tests.reliability.bounded import measure
from tests.reliability.running import run_job
from tests.utils.api import make_key
from tests.worker.test_job_runner import RecordingQueue

pytestmark = pytest.mark.timeout(600)

# Generous for a shared 2-core machine; each bomb, unguarded, costs gigabytes or minutes.
MAX_SECONDS = 10.0
MAX_RSS_GROWTH_MIB = 100.0

BOMB_SITE = """
import threading, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def deflated(chunks, wbits):
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return b"".join(packer.compress(chunk) for chunk in chunks) + packer.flush()

CODINGS = {codings!r}
WBITS = {{"gzip": 31, "deflate": 15}}
body = deflated((bytes(1 << 20) for _ in range({expanded_mib})), WBITS[CODINGS[0]])
for coding in CODINGS[1:]:
    body = deflated([body], WBITS[coding])

class Bomb(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Encoding", ", ".join(CODINGS))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d/bomb.txt" % server.server_address[1]
from sie.core.fetch import fetch_url
"""


@pytest.mark.parametrize(
    "codings",
    [("gzip",), ("deflate",), ("gzip", "gzip")],
    ids=["gzip", "deflate", "gzip-twice"],
)
def test_a_compression_bomb_from_a_site_stops_at_the_fetch_cap(codings: tuple[str, ...]) -> None:
    """1 GiB of zeros, sent as about 1 MB (one layer) or 2 KB (two layers)."""
    measured = measure("fetch_url(url)", setup=BOMB_SITE.format(codings=codings, expanded_mib=1024))
    assert measured.error == "ContentTooLarge"
    assert f"more than the {settings.fetch_max_bytes}-byte cap" in (measured.message or "")
    assert measured.seconds < MAX_SECONDS
    assert measured.rss_growth_mib < MAX_RSS_GROWTH_MIB, f"grew {measured.rss_growth_mib:.0f} MiB"


@pytest.mark.parametrize(
    ("maker", "side"),
    [("png_claiming", 100_000), ("jpeg_claiming", 60_000)],
    ids=["png-100000x100000", "jpeg-60000x60000"],
)
def test_an_image_pixel_bomb_is_refused_from_its_header(maker: str, side: int) -> None:
    measured = measure(
        """
        try:
            ocr_image_bytes(data)
        finally:
            outcome["result"] = "torch" in sys.modules
        """,
        setup=f"import sys\nfrom sie.core.pipeline.ocr import ocr_image_bytes\n"
        f"from tests.reliability.bombs import {maker}\ndata = {maker}({side}, {side})",
    )
    assert measured.error == "ContentTooLarge"
    assert "over the OCR_MAX_PIXELS cap" in (measured.message or "")
    assert measured.seconds < MAX_SECONDS and measured.rss_growth_mib < MAX_RSS_GROWTH_MIB
    assert measured.result is False, "the OCR model was loaded for an image refused by its header"


def test_an_uploaded_pixel_bomb_fails_its_job_with_the_reason(
    client: TestClient, recording_queue: RecordingQueue
) -> None:
    key = make_key()
    accepted = client.post(
        "/v1/documents/upload",
        files={"file": ("bomb.png", png_claiming(100_000, 100_000))},
        headers=key.headers,
    )
    assert accepted.status_code == 202
    job = run_job(uuid.UUID(accepted.json()["job_id"]), recording_queue)
    assert job.status == "failed" and job.error_kind == "content_too_large"
    assert "over the OCR_MAX_PIXELS cap" in (job.error or "")


def test_a_pdf_with_thousands_of_pages_is_refused_by_its_page_count(
    client: TestClient, recording_queue: RecordingQueue
) -> None:
    measured = measure(
        "extract(data)",
        setup="from sie.core.pipeline.extract import extract\n"
        "from tests.reliability.bombs import many_page_pdf\ndata = many_page_pdf(5000)",
    )
    assert measured.error == "ContentTooLarge" and "5000 pages" in (measured.message or "")
    assert measured.seconds < MAX_SECONDS and measured.rss_growth_mib < MAX_RSS_GROWTH_MIB

    key = make_key()
    accepted = client.post(
        "/v1/documents/upload", files={"file": ("huge.pdf", many_page_pdf(5000))}, headers=key.headers
    )
    assert accepted.status_code == 202
    job = run_job(uuid.UUID(accepted.json()["job_id"]), recording_queue)
    assert job.status == "failed" and job.error_kind == "content_too_large"
    assert "PDF has 5000 pages, over the 500-page cap" in (job.error or "")


def test_html_nested_a_million_deep_is_read_in_linear_time() -> None:
    measured = measure(
        "outcome['result'] = extract(markup).text",
        setup="from sie.core.pipeline.extract import extract\n"
        "markup = b'<html><body>' + b'<div>' * 1_000_000 + b'Deep text.' + b'</div>' * 1_000_000",
    )
    assert measured.error is None and measured.result == "Deep text."
    assert measured.seconds < MAX_SECONDS and measured.rss_growth_mib < 2 * MAX_RSS_GROWTH_MIB


@pytest.mark.parametrize(
    "kind",
    [
        "tiny-elements",
        "links",
        "unclosed-cells",
        "teaser-cards",
        "one-text-node",
        "many-attributes",
        "open-select",
        "open-formatting",
        "long-links",
        "identical-paragraphs",
    ],
)
def test_a_hostile_html_page_of_10_mib_is_read_in_bounded_time_and_memory(kind: str) -> None:
    """Pages built against the parsers (lexbor, libxml2) and trafilatura: each would take tens of
    seconds or gigabytes unguarded (docs/extraction.md)."""
    measured = measure(
        "outcome['result'] = len(extract(page).text)",
        setup="from sie.core.pipeline.extract import extract\n"
        f"from tests.reliability.bombs import hostile_page\npage = hostile_page({kind!r})",
    )
    assert measured.error is None and measured.result, measured.message
    assert measured.seconds < MAX_SECONDS, f"took {measured.seconds:.1f} s"
    assert measured.rss_growth_mib < 4 * MAX_RSS_GROWTH_MIB, f"grew {measured.rss_growth_mib:.0f} MiB"


@pytest.mark.parametrize(
    "feed",
    ["billion-laughs", "quadratic-blowup", "external-entity"],
)
def test_xml_entity_tricks_in_a_feed_are_refused_before_parsing(feed: str) -> None:
    measured = measure(
        "parse_feed(FetchedContent(url='http://127.0.0.1/feed.xml', content=feed, "
        "content_type='application/rss+xml', status_code=200), max_items=100)",
        setup="from sie.core.sources.feed import parse_feed\n"
        "from sie.core.fetch import FetchedContent\n"
        f"from tests.reliability.bombs import xml_bomb\nfeed = xml_bomb({feed!r})",
    )
    assert measured.error == "MalformedListing"
    assert "declares XML entities or external references; refused" in (measured.message or "")
    assert measured.seconds < MAX_SECONDS and measured.rss_growth_mib < MAX_RSS_GROWTH_MIB


def test_uploads_are_never_inflated(client: TestClient) -> None:
    """Compressed archives are not documents: refused as they are, never decompressed."""
    key = make_key()
    bomb = gzip.compress(bytes(64 << 20))
    for name, data in (("bomb.txt.gz", bomb), ("bomb.zip", b"PK\x03\x04" + bomb)):
        response = client.post("/v1/documents/upload", files={"file": (name, data)}, headers=key.headers)
        assert response.status_code == 415, response.text


def test_an_upload_that_is_not_valid_utf8_is_still_read_and_found(
    client: TestClient, recording_queue: RecordingQueue
) -> None:
    """Broken bytes in a text file cost the reader at most those bytes, never the document."""
    key = make_key()
    word = f"quillowbrook{uuid.uuid4().hex[:8]}"
    data = f"The {word} report from Lisbon. ".encode() + b"\xff\xfe\xc3(" + b" Still readable after."
    accepted = client.post(
        "/v1/documents/upload", files={"file": ("notes.txt", data, "text/plain")}, headers=key.headers
    )
    assert accepted.status_code == 202, accepted.text
    job = run_job(uuid.UUID(accepted.json()["job_id"]), recording_queue)
    assert job.status == "done", job.error
    document = client.get(f"/v1/documents/{accepted.json()['document_id']}", headers=key.headers).json()
    assert word in document["text"] and "Still readable after." in document["text"]
    assert document["id"] in [
        hit["id"] for hit in client.get("/v1/search", params={"q": word}, headers=key.headers).json()["hits"]
    ]


def test_a_feed_that_is_not_valid_utf8_is_read_leniently() -> None:
    """A feed declaring UTF-8 with Latin-1 bytes in it (common in the wild) still yields its items."""
    from sie.core.fetch import FetchedContent
    from sie.core.sources.feed import parse_feed

    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T\xff\xfe</title>'
        b"<item><title>Caf\xe9 news</title><link>http://127.0.0.1/a</link></item></channel></rss>"
    )
    fetched = FetchedContent(
        url="http://127.0.0.1/feed.xml", content=body, content_type="application/rss+xml", status_code=200
    )
    result = parse_feed(fetched, max_items=10)
    assert [(item.url, item.title) for item in result.items] == [("http://127.0.0.1/a", "Caf\u00e9 news")]


# --- request bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"text": "caf\xe9 \xff\xfe"}', "not valid UTF-8"),
        (b'{"te\xffxt": "x"}', "not valid UTF-8"),
        (gzip.compress(b'{"text": "compressed"}'), "not valid UTF-8"),  # Content-Encoding is not honoured
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b'{"text": "a NUL \\u0000 here"}', "NUL characters"),
        (b'{"text": "half a pair \\ud800 here"}', "unicode string"),
        (b'{"text": "x", "metadata": {"score": NaN}}', "finite number"),
        (b'{"text": "x", "metadata": {"deep": ' + b'{"a": ' * 500 + b'"\\u0000"' + b"}" * 500 + b"}}", "NUL"),
    ],
    ids=[
        "invalid-utf8-value",
        "invalid-utf8-key",
        "gzip-body",
        "deep-json",
        "nul",
        "surrogate",
        "nan",
        "deep-nul",
    ],
)
def test_malformed_json_is_422_with_the_reason(client: TestClient, body: bytes, message: str) -> None:
    headers = {**make_key().headers, "Content-Type": "application/json"}
    response = client.post("/v1/documents", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert message in response.text


def test_a_query_value_the_database_cannot_store_is_422(client: TestClient) -> None:
    response = client.get("/v1/insights/sentiment", params={"source": "a\x00b"}, headers=make_key().headers)
    assert response.status_code == 422 and "NUL" in response.text


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with api_process(log_path=tmp_path_factory.mktemp("api") / "api.log") as (url, process):
        yield url, process.pid


@pytest.mark.slow
def test_a_huge_json_body_is_413_before_it_is_read(live_api: tuple[str, int]) -> None:
    url, pid = live_api
    key = make_key()
    headers = {**key.headers, "Content-Type": "application/json"}
    huge = 200 << 20
    rss_before = _rss_mib(pid)

    declared = httpx.post(
        f"{url}/v1/documents", content=b'{"text": "' + b"a" * huge + b'"}', headers=headers, timeout=60
    )

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(huge >> 20):
            yield os.urandom(1 << 19).hex().encode()
        yield b'"}'

    try:
        streamed = httpx.post(f"{url}/v1/documents", content=chunks(), headers=headers, timeout=60)
        streamed_status = streamed.status_code
    except httpx.HTTPError:
        # The API may answer 413 and close while the client is still sending; it never read the rest.
        streamed_status = 413
    growth = _rss_mib(pid) - rss_before
    print(f"\nAPI RSS grew {growth:.1f} MiB for two 200 MiB bodies")
    assert declared.status_code == 413 and "exceeds" in declared.json()["detail"]
    assert streamed_status == 413
    assert growth < 2 * settings.max_body_bytes / (1 << 20) + 20


def coded_site(body: bytes, coding: str) -> httpx.MockTransport:
    """A site (no network: a mock transport) answering every request with `body` under `coding`.

    The body is streamed, as from a socket: an in-memory body would be decoded by httpx up front.
    """
    headers = {"Content-Type": "text/plain", "Content-Encoding": coding}
    return httpx.MockTransport(lambda _request: httpx.Response(200, content=iter([body]), headers=headers))


def fetch_coded(body: bytes, coding: str) -> bytes:
    # A stub resolver: no DNS query, and the mock transport sends nothing anywhere.
    public = ["93.184.215.14"]
    return fetch_url(
        "http://news.example/", resolver=lambda _: public, transport=coded_site(body, coding)
    ).content


def test_content_codings_are_undone_with_the_same_results_as_before() -> None:
    text = b"Harbour report: berth 7 cleared. " * 100
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert fetch_coded(gzip.compress(text), "gzip") == text
    assert fetch_coded(zlib.compress(text), "deflate") == text
    # Raw deflate without the zlib wrapper, which some servers send and httpx accepted.
    assert fetch_coded(raw_deflate.compress(text) + raw_deflate.flush(), "deflate") == text
    assert fetch_coded(gzip.compress(gzip.compress(text)), "gzip, gzip") == text
    assert fetch_coded(text, "identity") == text


@pytest.mark.parametrize(
    ("coding", "reason"),
    [("br", "unsupported content coding 'br'"), ("gzip, gzip, gzip", "stacks 3 content codings")],
)
def test_unreadable_or_stacked_codings_are_refused(coding: str, reason: str) -> None:
    with pytest.raises(UnsupportedContent, match=reason):
        fetch_coded(b"\x00" * 64, coding)


def test_a_corrupt_compressed_body_fails_permanently() -> None:
    with pytest.raises(FetchFailed, match="cannot be decoded"):
        fetch_coded(b"\x1f\x8b\x08\x00garbage that is not deflate", "gzip")
