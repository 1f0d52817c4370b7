"""`fetch_url`: GET a URL through the SSRF guard, every redirect hop re-checked, the body capped.

Every hop (the first URL and each redirect) goes through the guard before any connection is made,
and the connection then goes to the vetted address (`sie.core.fetch.guard`).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

import sie
from sie.core.config import Settings, settings
from sie.core.errors import ContentTooLarge, FetchFailed, FetchTransientError
from sie.core.fetch.codings import ACCEPT_ENCODING, decoded_chunks
from sie.core.fetch.guard import IPAddress, IPNetwork, Resolver, resolve_with_getaddrinfo, vetted_addresses
from sie.core.fetch.urls import host_of, origin, parse_url, shown
from sie.core.logging import get_logger

USER_AGENT = f"SIE/{sie.__version__} (+https://github.com/sie-project/sie)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Credentials the caller meant for one origin must not follow a redirect to another.
ORIGIN_BOUND_HEADERS = ("authorization", "cookie", "proxy-authorization")
# fetch_url follows redirects itself, each hop through the guard; httpx never sees a Location.
LOCATION_SET_ASIDE = "x-sie-redirect-location"

logger = get_logger(__name__)


@dataclass(frozen=True)
class FetchedContent:
    """What `fetch` brings back from a URL (after redirects, each re-checked by the guard)."""

    url: str
    content: bytes
    content_type: str | None
    status_code: int
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one fetch. `timeout` bounds the whole fetch: every redirect hop and the body."""

    timeout: float
    max_bytes: int
    max_redirects: int
    allowed_networks: tuple[IPNetwork, ...] = ()
    user_agent: str = USER_AGENT

    @classmethod
    def from_settings(cls, config: Settings = settings) -> FetchPolicy:
        return cls(
            timeout=config.fetch_timeout_seconds,
            max_bytes=config.fetch_max_bytes,
            max_redirects=config.fetch_max_redirects,
            allowed_networks=tuple(config.fetch_allowed_networks),
        )


@dataclass(frozen=True)
class _Fetch:
    """One fetch under way: its limits, how it resolves names, and when it must be done."""

    policy: FetchPolicy
    resolver: Resolver
    deadline: float


def fetch_url(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    policy: FetchPolicy | None = None,
    resolver: Resolver | None = None,
    transport: httpx.BaseTransport | None = None,
) -> FetchedContent:
    """GET `url` through the SSRF guard, following redirects (each re-checked) up to the policy's limit.

    `headers` may carry If-None-Match / If-Modified-Since: a 304 answer comes back as a FetchedContent
    with status 304 and no content. Raises FetchRefused, FetchFailed, FetchTransientError or
    ContentTooLarge.
    """
    policy = policy or FetchPolicy.from_settings()
    fetch = _Fetch(policy, resolver or resolve_with_getaddrinfo, time.monotonic() + policy.timeout)
    request_headers = _request_headers(policy, headers)
    started = time.perf_counter()
    with httpx.Client(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        event_hooks={"response": [_set_location_aside]},
    ) as client:
        fetched, redirects_followed = _follow_redirects(client, fetch, url, request_headers)
    logger.debug(
        "url_fetched",
        url=fetched.url,
        status_code=fetched.status_code,
        bytes=len(fetched.content),
        redirects=redirects_followed,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return fetched


def _request_headers(policy: FetchPolicy, headers: Mapping[str, str] | None) -> httpx.Headers:
    request_headers = httpx.Headers({"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING})
    request_headers.update(headers or {})
    # The Host header is always the URL's; a caller's would disagree with the vetted target.
    request_headers.pop("host", None)
    return request_headers


def _follow_redirects(
    client: httpx.Client, fetch: _Fetch, first_url: str, headers: httpx.Headers
) -> tuple[FetchedContent, int]:
    """The final answer, and how many redirects led to it; each hop goes through the guard."""
    url = parse_url(first_url)
    for redirects_followed in range(fetch.policy.max_redirects + 1):
        addresses = vetted_addresses(
            host_of(url),
            shown_url=shown(url),
            allowed_networks=fetch.policy.allowed_networks,
            resolver=fetch.resolver,
            deadline=fetch.deadline,
        )
        response = _send_to_first_reachable(client, url, addresses, headers, fetch.deadline)
        try:
            location = response.headers.get(LOCATION_SET_ASIDE)
            if not (response.status_code in REDIRECT_STATUSES and location):
                return _read_response(response, url, fetch), redirects_followed
        finally:
            response.close()
        next_url = parse_url(location, base=url)
        if origin(next_url) != origin(url):
            for name in ORIGIN_BOUND_HEADERS:
                headers.pop(name, None)
        url = next_url
    raise FetchFailed(
        f"too many redirects (more than {fetch.policy.max_redirects}) fetching {shown(first_url)}"
    )


def _set_location_aside(response: httpx.Response) -> None:
    # httpx parses every Location for its own redirect handling, even unused, and fails on IP
    # spellings the guard reads (octal `0251.0376.0251.0376`): a refusal became a transient error.
    if "location" in response.headers:
        response.headers[LOCATION_SET_ASIDE] = response.headers.pop("location")


def _send_to_first_reachable(
    client: httpx.Client,
    url: httpx.URL,
    addresses: list[IPAddress],
    headers: httpx.Headers,
    deadline: float,
) -> httpx.Response:
    """Send the request to the vetted addresses in order; the first that accepts a connection answers."""
    connect_error: httpx.TransportError | None = None
    # The name stays in the Host header (and SNI for TLS); the socket goes to the vetted address.
    headers = headers.copy()
    headers["Host"] = url.netloc.decode("ascii")
    for address in addresses:
        request = client.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers=headers,
            extensions={"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else None,
            timeout=_remaining(deadline, url),
        )
        try:
            return client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            connect_error = exc
        except httpx.TimeoutException:
            raise FetchTransientError(f"timed out fetching {shown(url)}") from None
        except httpx.TransportError as exc:
            raise FetchTransientError(f"fetching {shown(url)} failed: {exc}") from None
    raise FetchTransientError(f"could not connect to {url.host}: {connect_error}")


def _read_response(response: httpx.Response, url: httpx.URL, fetch: _Fetch) -> FetchedContent:
    status = response.status_code
    if status == 429 or status >= 500:
        raise FetchTransientError(f"HTTP {status} {response.reason_phrase} from {shown(url)}")
    if status >= 300 and status != 304:
        raise FetchFailed(f"HTTP {status} {response.reason_phrase} from {shown(url)}")
    content = b"" if status == 304 else _read_capped_body(response, url, fetch)
    return FetchedContent(
        url=str(url),
        content=content,
        content_type=response.headers.get("content-type"),
        status_code=status,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )


def _read_capped_body(response: httpx.Response, url: httpx.URL, fetch: _Fetch) -> bytes:
    max_bytes = fetch.policy.max_bytes
    declared_length = response.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > max_bytes:
        raise ContentTooLarge(f"{shown(url)} declares {declared_length} bytes, over the {max_bytes}-byte cap")
    body = bytearray()
    try:
        # Counted after decompression, so a small gzip bomb stops at the cap as well.
        for chunk in decoded_chunks(response, url):
            body += chunk
            if len(body) > max_bytes:
                raise ContentTooLarge(f"{shown(url)} sends more than the {max_bytes}-byte cap")
            # Read timeouts apply per read; this stops a server that drips bytes forever.
            _remaining(fetch.deadline, url)
    except httpx.TimeoutException:
        raise FetchTransientError(f"timed out reading {shown(url)}") from None
    except zlib.error as exc:
        raise FetchFailed(f"{shown(url)} sent a body that cannot be decoded: {exc}") from None
    except httpx.TransportError as exc:
        raise FetchTransientError(f"reading {shown(url)} failed: {exc}") from None
    return bytes(body)


def _remaining(deadline: float, url: httpx.URL) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchTransientError(f"timed out fetching {shown(url)}")
    return remaining
