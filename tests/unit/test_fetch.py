"""fetch_url: the SSRF guard, redirects, caps and status mapping.

Every test but the last group runs against httpx.MockTransport with a stub resolver, so nothing leaves
the process; the last group talks to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

import sie
from sie.core.errors import ContentTooLarge, FetchFailed, FetchRefused, FetchTransientError
from sie.core.fetch import FetchPolicy, Resolver, fetch_url, parse_ip_literal, refusal_reason

PUBLIC_V4 = "93.184.215.14"
OTHER_PUBLIC_V4 = "93.184.215.15"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

Handler = Callable[[httpx.Request], httpx.Response]


class RecordingTransport(httpx.MockTransport):
    """A MockTransport that remembers every request that reached it."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        answer = handler or (
            lambda _request: httpx.Response(200, text="ok", headers={"Content-Type": "text/plain"})
        )

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return answer(request)

        super().__init__(record)


def stub_resolver(table: dict[str, list[str]]) -> Resolver:
    """Answers from `table`; any other name does not exist (never a real DNS query)."""

    def resolve(host: str) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


PUBLIC_NAMES = stub_resolver(
    {
        "public.example": [PUBLIC_V4],
        "other.example": [OTHER_PUBLIC_V4],
        "v6.example": [PUBLIC_V6],
        "internal.example": ["10.1.2.3"],
        "mixed.example": [PUBLIC_V4, "127.0.0.1"],
        "mapped.example": ["::ffff:192.168.0.10"],
        "metadata.example": ["169.254.169.254"],
        "ula.example": ["fd00::10"],
        "dual.example": [PUBLIC_V6, PUBLIC_V4],
    }
)


@pytest.fixture
def strict_policy() -> FetchPolicy:
    # The test environment allows loopback; these tests check the guard with no exceptions at all.
    return replace(FetchPolicy.from_settings(), allowed_networks=(), timeout=5.0)


# --- the guard -------------------------------------------------------------------------------------

BLOCKED_URL_HOSTS = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("2130706433", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("0x7f.0.0.1", "loopback"),
    ("0x7f000001", "loopback"),
    ("127.1", "loopback"),
    ("127.0.0.1.", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("[::ffff:10.0.0.1]", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("[::ffff:169.254.169.254]", "cloud metadata"),
    ("169.254.10.10", "link-local"),
    ("[fe80::1]", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("0", "unspecified"),
    ("[::]", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("[ff02::1]", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("[::7f00:1]", "loopback address embedded in IPv4-compatible"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("[fc00::1]", "unique-local"),
    ("[fd12:3456::1]", "unique-local"),
    ("[2002:7f00:1::]", "loopback address embedded in 6to4"),
    ("[2002:a00:1::1]", "private address embedded in 6to4"),
    # Teredo client 127.0.0.1, stored bit-inverted in the last 32 bits.
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "loopback address embedded"),
    ("[64:ff9b::7f00:1]", "loopback address embedded in NAT64"),
    ("198.18.0.1", "benchmarking"),
]


@pytest.mark.parametrize(("host", "reason"), BLOCKED_URL_HOSTS)
def test_blocked_address_is_refused_before_any_connection(
    host: str, reason: str, strict_policy: FetchPolicy
) -> None:
    transport = RecordingTransport()
    with pytest.raises(FetchRefused, match=reason):
        fetch_url(f"http://{host}/x", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("internal.example", "private"),
        ("mixed.example", "loopback"),
        ("mapped.example", "private"),
        ("metadata.example", "cloud metadata"),
        ("ula.example", "unique-local"),
    ],
)
def test_host_name_resolving_to_a_blocked_address_is_refused(
    name: str, reason: str, strict_policy: FetchPolicy
) -> None:
    transport = RecordingTransport()
    with pytest.raises(FetchRefused, match=reason):
        fetch_url(f"https://{name}/", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("010.0.0.1", "8.0.0.1"),
        ("::ffff:7f00:1", "127.0.0.1"),
        ("2606:2800::1", "2606:2800::1"),
        ("example.com", None),
        ("1e100.net", None),
    ],
)
def test_ip_spellings_are_normalised(spelling: str, address: str | None) -> None:
    expected = ipaddress.ip_address(address) if address else None
    assert parse_ip_literal(spelling) == expected


@pytest.mark.parametrize(
    "address", [PUBLIC_V4, PUBLIC_V6, "64:ff9b::808:808", "2002:5db8:d70e::1", "8.8.8.8", "1.1.1.1"]
)
def test_public_addresses_pass_the_guard(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_invalid_numeric_host_fails_without_connecting(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport()
    with pytest.raises(FetchFailed, match="invalid URL"):
        fetch_url("http://999.1.1.1/", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://public.example/x", "gopher://public.example/"])
def test_only_http_and_https_are_fetched(url: str, strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport()
    with pytest.raises(FetchRefused, match="only http and https"):
        fetch_url(url, policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport)
    assert transport.requests == []


def test_allowed_network_lets_a_private_address_through(strict_policy: FetchPolicy) -> None:
    policy = replace(strict_policy, allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    transport = RecordingTransport()
    fetched = fetch_url(
        "http://internal.example/doc", policy=policy, resolver=PUBLIC_NAMES, transport=transport
    )
    assert fetched.status_code == 200
    assert transport.requests[0].url.host == "10.1.2.3"
    # The exception covers exactly that network, nothing else.
    with pytest.raises(FetchRefused, match="private"):
        fetch_url("http://192.168.1.1/", policy=policy, resolver=PUBLIC_NAMES, transport=transport)
    assert len(transport.requests) == 1


# --- connecting to the vetted address ----------------------------------------------------------------


def test_connects_to_the_vetted_ip_with_the_name_in_host_and_sni(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport()
    fetch_url(
        "https://public.example:8443/a?b=1", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport
    )
    (request,) = transport.requests
    assert request.url.host == PUBLIC_V4
    assert request.url.port == 8443
    assert request.url.raw_path == b"/a?b=1"
    assert request.headers["host"] == "public.example:8443"
    assert request.extensions["sni_hostname"] == "public.example"


def test_plain_http_sends_no_sni_and_ipv6_is_bracketed(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport()
    fetch_url("http://v6.example/", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport)
    (request,) = transport.requests
    assert request.url.host == PUBLIC_V6
    assert str(request.url).startswith(f"http://[{PUBLIC_V6}]/")
    assert request.headers["host"] == "v6.example"
    assert "sni_hostname" not in request.extensions


def test_name_is_resolved_once_per_hop_so_rebinding_cannot_switch_the_target(
    strict_policy: FetchPolicy,
) -> None:
    answers = iter([[PUBLIC_V4], ["127.0.0.1"]])
    lookups: list[str] = []

    def rebinding_resolver(host: str) -> list[str]:
        lookups.append(host)
        return next(answers)

    transport = RecordingTransport()
    fetch_url(
        "http://rebind.example/", policy=strict_policy, resolver=rebinding_resolver, transport=transport
    )
    assert lookups == ["rebind.example"]
    assert transport.requests[0].url.host == PUBLIC_V4


def test_next_vetted_address_is_tried_when_the_first_refuses_connections(strict_policy: FetchPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC_V6:
            raise httpx.ConnectError("network unreachable", request=request)
        return httpx.Response(200, text="over IPv4")

    transport = RecordingTransport(handler)
    fetched = fetch_url(
        "http://dual.example/", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport
    )
    assert fetched.content == b"over IPv4"
    assert [request.url.host for request in transport.requests] == [PUBLIC_V6, PUBLIC_V4]


def test_user_agent_names_sie(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport()
    fetch_url("http://public.example/", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport)
    user_agent = transport.requests[0].headers["user-agent"]
    assert user_agent.startswith(f"SIE/{sie.__version__} ")
    assert user_agent == FetchPolicy.from_settings().user_agent


def test_caller_headers_merge_case_insensitively_and_cannot_override_host(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport()
    fetch_url(
        "http://public.example/",
        headers={"user-agent": "SIE-feed-poller", "host": "internal.example", "Accept": "text/html"},
        policy=strict_policy,
        resolver=PUBLIC_NAMES,
        transport=transport,
    )
    headers = transport.requests[0].headers
    assert headers.get_list("user-agent") == ["SIE-feed-poller"]
    assert headers.get_list("host") == ["public.example"]
    assert headers["accept"] == "text/html"


def test_passwords_in_urls_stay_out_of_error_messages(strict_policy: FetchPolicy) -> None:
    with pytest.raises(FetchRefused) as refused:
        fetch_url(
            "http://admin:hunter2@10.0.0.1/",
            policy=strict_policy,
            resolver=PUBLIC_NAMES,
            transport=RecordingTransport(),
        )
    assert "hunter2" not in str(refused.value)
    failing = RecordingTransport(lambda _request: httpx.Response(404))
    with pytest.raises(FetchFailed) as failed:
        fetch_url(
            "http://admin:hunter2@public.example/",
            policy=strict_policy,
            resolver=PUBLIC_NAMES,
            transport=failing,
        )
    assert "hunter2" not in str(failed.value)
    assert failing.requests[0].headers["authorization"].startswith("Basic ")


def test_policy_from_settings_reads_the_fetch_settings() -> None:
    from sie.core.config import settings

    policy = FetchPolicy.from_settings()
    assert policy.timeout == settings.fetch_timeout_seconds
    assert policy.max_bytes == settings.fetch_max_bytes
    assert policy.max_redirects == settings.fetch_max_redirects
    assert policy.allowed_networks == tuple(settings.fetch_allowed_networks)


# --- redirects -------------------------------------------------------------------------------------


def redirecting(routes: dict[tuple[str, str], str]) -> Handler:
    """Answer 302 to Location routes[(Host header, path)], 200 otherwise."""

    def handler(request: httpx.Request) -> httpx.Response:
        target = routes.get((request.headers["host"], request.url.path))
        if target is None:
            return httpx.Response(200, text=f"final at {request.url.path}")
        return httpx.Response(302, headers={"Location": target})

    return handler


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "http://2130706433/",
        "http://internal.example/admin",
        "http://[::1]/",
        "file:///etc/passwd",
    ],
)
def test_redirect_to_a_blocked_target_is_refused_before_connecting(
    location: str, strict_policy: FetchPolicy
) -> None:
    transport = RecordingTransport(redirecting({("public.example", "/start"): location}))
    with pytest.raises(FetchRefused):
        fetch_url(
            "http://public.example/start", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport
        )
    assert [str(request.url) for request in transport.requests] == [f"http://{PUBLIC_V4}/start"]


def test_relative_and_cross_host_redirects_are_followed(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport(
        redirecting(
            {
                ("public.example", "/a"): "/b",
                ("public.example", "/b"): "http://other.example/c",
            }
        )
    )
    fetched = fetch_url(
        "http://public.example/a", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport
    )
    assert fetched.url == "http://other.example/c"
    assert fetched.content == b"final at /c"
    assert [request.url.host for request in transport.requests] == [PUBLIC_V4, PUBLIC_V4, OTHER_PUBLIC_V4]


def test_credentials_do_not_follow_a_redirect_to_another_origin(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport(redirecting({("public.example", "/a"): "http://other.example/b"}))
    fetch_url(
        "http://public.example/a",
        headers={"Authorization": "Bearer abc", "If-None-Match": '"v1"'},
        policy=strict_policy,
        resolver=PUBLIC_NAMES,
        transport=transport,
    )
    first, second = transport.requests
    assert first.headers["authorization"] == "Bearer abc"
    assert "authorization" not in second.headers
    assert second.headers["if-none-match"] == '"v1"'


def test_redirect_limit(strict_policy: FetchPolicy) -> None:
    routes = {("public.example", f"/{hop}"): f"/{hop + 1}" for hop in range(10)}
    policy = replace(strict_policy, max_redirects=2)
    transport = RecordingTransport(redirecting(routes))
    with pytest.raises(FetchFailed, match="too many redirects"):
        fetch_url("http://public.example/0", policy=policy, resolver=PUBLIC_NAMES, transport=transport)
    assert len(transport.requests) == 3

    short_chain = RecordingTransport(
        redirecting({("public.example", "/0"): "/1", ("public.example", "/1"): "/2"})
    )
    fetched = fetch_url(
        "http://public.example/0", policy=policy, resolver=PUBLIC_NAMES, transport=short_chain
    )
    assert fetched.url == "http://public.example/2"


# --- bodies, caps and status codes -------------------------------------------------------------------


def test_body_and_validators_come_back(strict_policy: FetchPolicy) -> None:
    transport = RecordingTransport(
        lambda _request: httpx.Response(
            200,
            content=b"<p>hi</p>",
            headers={
                "Content-Type": "text/html; charset=utf-8",
                "ETag": '"abc"',
                "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            },
        )
    )
    fetched = fetch_url(
        "http://public.example/", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport
    )
    assert fetched.content == b"<p>hi</p>"
    assert fetched.content_type == "text/html; charset=utf-8"
    assert fetched.status_code == 200
    assert fetched.etag == '"abc"'
    assert fetched.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_conditional_get_304_is_not_an_error(strict_policy: FetchPolicy) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"abc"':
            return httpx.Response(304, headers={"ETag": '"abc"'})
        return httpx.Response(200, text="body")

    transport = RecordingTransport(handler)
    fetched = fetch_url(
        "http://public.example/",
        headers={"If-None-Match": '"abc"', "If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"},
        policy=strict_policy,
        resolver=PUBLIC_NAMES,
        transport=transport,
    )
    assert (fetched.status_code, fetched.content, fetched.etag) == (304, b"", '"abc"')
    assert transport.requests[0].headers["if-modified-since"] == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_declared_length_over_the_cap_is_refused_up_front(strict_policy: FetchPolicy) -> None:
    policy = replace(strict_policy, max_bytes=1000)
    transport = RecordingTransport(lambda _request: httpx.Response(200, content=b"x" * 1001))
    with pytest.raises(ContentTooLarge, match="declares 1001 bytes"):
        fetch_url("http://public.example/", policy=policy, resolver=PUBLIC_NAMES, transport=transport)


def test_streamed_body_stops_at_the_cap(strict_policy: FetchPolicy) -> None:
    policy = replace(strict_policy, max_bytes=1000)
    chunks_sent: list[int] = []

    def endless_chunks() -> Iterator[bytes]:
        for _ in range(1000):
            chunks_sent.append(1)
            yield b"x" * 400

    # An iterator body goes out chunked, with no Content-Length to check up front.
    transport = RecordingTransport(lambda _request: httpx.Response(200, content=endless_chunks()))
    with pytest.raises(ContentTooLarge, match="more than the 1000-byte cap"):
        fetch_url("http://public.example/", policy=policy, resolver=PUBLIC_NAMES, transport=transport)
    assert len(chunks_sent) == 3


def test_body_exactly_at_the_cap_is_accepted(strict_policy: FetchPolicy) -> None:
    policy = replace(strict_policy, max_bytes=1000)
    transport = RecordingTransport(
        lambda _request: httpx.Response(200, content=iter([b"x" * 600, b"y" * 400]))
    )
    fetched = fetch_url("http://public.example/", policy=policy, resolver=PUBLIC_NAMES, transport=transport)
    assert len(fetched.content) == 1000


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, FetchFailed),
        (410, FetchFailed),
        (403, FetchFailed),
        (400, FetchFailed),
        (429, FetchTransientError),
        (500, FetchTransientError),
        (502, FetchTransientError),
        (503, FetchTransientError),
    ],
)
def test_error_statuses_map_onto_the_error_tree(
    status: int, error: type[Exception], strict_policy: FetchPolicy
) -> None:
    transport = RecordingTransport(lambda _request: httpx.Response(status))
    with pytest.raises(error, match=f"HTTP {status}"):
        fetch_url("http://public.example/", policy=strict_policy, resolver=PUBLIC_NAMES, transport=transport)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("server hung up"),
    ],
)
def test_network_failures_are_transient(failure: httpx.TransportError, strict_policy: FetchPolicy) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(FetchTransientError):
        fetch_url(
            "http://public.example/",
            policy=strict_policy,
            resolver=PUBLIC_NAMES,
            transport=RecordingTransport(handler),
        )


def test_unknown_host_fails_permanently(strict_policy: FetchPolicy) -> None:
    with pytest.raises(FetchFailed, match="does not exist"):
        fetch_url(
            "http://nowhere.example/",
            policy=strict_policy,
            resolver=PUBLIC_NAMES,
            transport=RecordingTransport(),
        )


def test_temporary_resolver_failure_is_transient(strict_policy: FetchPolicy) -> None:
    def failing(_host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(FetchTransientError, match="resolving"):
        fetch_url(
            "http://public.example/", policy=strict_policy, resolver=failing, transport=RecordingTransport()
        )


def test_a_hanging_resolver_is_bounded_by_the_timeout(strict_policy: FetchPolicy) -> None:
    release = threading.Event()

    def hanging(_host: str) -> list[str]:
        release.wait(10)
        return [PUBLIC_V4]

    started = time.monotonic()
    try:
        with pytest.raises(FetchTransientError, match="timed out"):
            fetch_url(
                "http://slow.example/",
                policy=replace(strict_policy, timeout=0.2),
                resolver=hanging,
                transport=RecordingTransport(),
            )
    finally:
        release.set()
    assert time.monotonic() - started < 2


# --- a real server on 127.0.0.1 -----------------------------------------------------------------------


class LocalSite(BaseHTTPRequestHandler):
    seen_paths: list[str] = []

    def do_GET(self) -> None:
        self.seen_paths.append(self.path)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
        else:
            body = b"<html><body><p>Served locally</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def local_site() -> Iterator[tuple[str, list[str]]]:
    LocalSite.seen_paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), LocalSite)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", LocalSite.seen_paths
    finally:
        server.shutdown()
        server.server_close()


def test_real_local_server_when_loopback_is_allowed(local_site: tuple[str, list[str]]) -> None:
    base_url, seen_paths = local_site
    policy = replace(FetchPolicy.from_settings(), allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))

    fetched = fetch_url(f"{base_url}/moved", policy=policy)
    assert fetched.status_code == 200
    assert fetched.url == f"{base_url}/page"
    assert b"Served locally" in fetched.content
    assert fetched.etag == '"v1"'

    revalidated = fetch_url(f"{base_url}/page", headers={"If-None-Match": '"v1"'}, policy=policy)
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert seen_paths == ["/moved", "/page", "/page"]


def test_real_local_server_is_refused_without_the_exception(
    local_site: tuple[str, list[str]], strict_policy: FetchPolicy
) -> None:
    base_url, seen_paths = local_site
    with pytest.raises(FetchRefused, match="loopback"):
        fetch_url(f"{base_url}/page", policy=strict_policy)
    assert seen_paths == []
