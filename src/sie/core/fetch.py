"""Fetch a URL without letting it reach inside the network it runs in (SSRF guard).

Every hop (the first URL and each redirect) goes through the same guard before any connection is made:
the host is resolved once, *every* address it resolves to must be public (or inside an explicitly
allowed network), and the connection then goes to that vetted address. Connecting to the vetted IP,
instead of handing the name to the HTTP client, means a DNS answer that changes between the check and
the connect (DNS rebinding) cannot redirect us.
"""

from __future__ import annotations

import ipaddress
import queue
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import httpx

import sie
from sie.core.config import Settings, settings
from sie.core.errors import (
    ContentTooLarge,
    FetchFailed,
    FetchRefused,
    FetchTransientError,
    UnsupportedContent,
)
from sie.core.logging import get_logger, redact_text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Takes a host name, returns the IP addresses (as text) it resolves to.
Resolver = Callable[[str], Iterable[str]]

USER_AGENT = f"SIE/{sie.__version__} (+https://github.com/sie-project/sie)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Credentials the caller meant for one origin must not follow a redirect to another.
ORIGIN_BOUND_HEADERS = ("authorization", "cookie", "proxy-authorization")

# Hosts that inet_aton would read as an IPv4 address: decimal `2130706433`, octal `0177.0.0.1`,
# hex `0x7f.0.0.1`, short `127.1`. Resolvers and browsers accept these spellings too.
NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+)){0,3}$", re.IGNORECASE)
CGNAT_NETWORK = ipaddress.IPv4Network("100.64.0.0/10")
UNIQUE_LOCAL_NETWORK = ipaddress.IPv6Network("fc00::/7")
# NAT64 (RFC 6052): the last 32 bits are the IPv4 address a NAT64 gateway connects to.
NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")
CLOUD_METADATA_ADDRESS = ipaddress.IPv4Address("169.254.169.254")

# Content codings undone here, in bounded slices (see `_decoded_chunks`), with their zlib window bits.
INFLATE_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
ACCEPT_ENCODING = "gzip, deflate"
# Real servers apply one coding; stacked ones only serve to multiply a decompression bomb.
MAX_CONTENT_CODINGS = 2
DECODE_SLICE_BYTES = 64 * 1024
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


def resolve_with_getaddrinfo(host: str) -> list[str]:
    """The default resolver: every address the system resolver knows for `host`, in its order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal_reason(address: IPAddress) -> str | None:
    """Why connecting to `address` would reach something that is not the public internet, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal_reason(address.ipv4_mapped)
        if address in NAT64_NETWORK:
            # Judged by where the gateway will connect, not by the (reserved) NAT64 prefix.
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            reason = refusal_reason(embedded)
            return f"{reason} behind NAT64" if reason else None
        embedded_v4 = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded_v4 is not None and (reason := refusal_reason(embedded_v4)):
            return f"{reason} embedded in a 6to4/Teredo address"
    if address == CLOUD_METADATA_ADDRESS:
        return "cloud metadata address"
    if address.is_loopback:
        return "loopback address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_link_local:
        return "link-local address"
    if address in CGNAT_NETWORK:
        return "shared (CGNAT) address"
    if address in UNIQUE_LOCAL_NETWORK:
        return "unique-local address"
    if address.is_multicast:
        return "multicast address"
    if address.is_reserved:
        return "reserved address"
    if address.is_private:
        return "private address"
    if not address.is_global:
        return "non-global address"
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host spells, in any spelling a resolver accepts; None for a host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not NUMERIC_HOST.match(host):
            return None
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise FetchFailed(f"invalid URL: {host!r} is neither an IP address nor a host name") from None
    return _unmapped(address)


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
    resolver = resolver or resolve_with_getaddrinfo
    deadline = time.monotonic() + policy.timeout
    request_headers = httpx.Headers({"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING})
    request_headers.update(headers or {})
    # The Host header is always the URL's; a caller's would disagree with the vetted target.
    request_headers.pop("host", None)
    current_url = _parse_url(url)
    started = time.perf_counter()
    with httpx.Client(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        event_hooks={"response": [_set_location_aside]},
    ) as client:
        for redirects_followed in range(policy.max_redirects + 1):
            addresses = _vetted_addresses(current_url, policy, resolver, deadline)
            response = _send_to_first_reachable(client, current_url, addresses, request_headers, deadline)
            try:
                location = response.headers.get(LOCATION_SET_ASIDE)
                if response.status_code in REDIRECT_STATUSES and location:
                    next_url = _parse_url(location, base=current_url)
                    if _origin(next_url) != _origin(current_url):
                        for name in ORIGIN_BOUND_HEADERS:
                            request_headers.pop(name, None)
                    current_url = next_url
                    continue
                fetched = _read_response(response, current_url, policy, deadline)
            finally:
                response.close()
            logger.debug(
                "url_fetched",
                url=str(current_url),
                status_code=fetched.status_code,
                bytes=len(fetched.content),
                redirects=redirects_followed,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            return fetched
    raise FetchFailed(f"too many redirects (more than {policy.max_redirects}) fetching {_shown(url)}")


def _set_location_aside(response: httpx.Response) -> None:
    # httpx parses every Location for its own redirect handling, even unused, and fails on IP
    # spellings the guard reads (octal `0251.0376.0251.0376`): a refusal became a transient error.
    if "location" in response.headers:
        response.headers[LOCATION_SET_ASIDE] = response.headers.pop("location")


def _parse_url(raw: str, *, base: httpx.URL | None = None) -> httpx.URL:
    try:
        canonical = _with_canonical_ip_host(raw)
        parsed = base.join(canonical) if base is not None else httpx.URL(canonical)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchFailed(f"invalid URL {_shown(raw)!r}: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(f"refusing {_shown(raw)!r}: only http and https URLs may be fetched")
    if not parsed.raw_host:
        raise FetchFailed(f"invalid URL {_shown(raw)!r}: no host")
    return parsed


def _shown(url: httpx.URL | str) -> str:
    """`url` fit for messages that end up on jobs and in logs: without a password."""
    return redact_text(str(url))


def _with_canonical_ip_host(raw: str) -> str:
    """`raw` with an IP host in its canonical spelling (httpx rejects some spellings resolvers accept)."""
    parts = urlsplit(raw)
    host = parts.hostname
    address = parse_ip_literal(host.rstrip(".")) if host else None
    if address is None:
        return raw
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (
        (f"{userinfo}@" if userinfo else "")
        + (f"[{address}]" if address.version == 6 else str(address))
        + (f":{parts.port}" if parts.port is not None else "")
    )
    return urlunsplit(parts._replace(netloc=netloc))


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


def _vetted_addresses(
    url: httpx.URL, policy: FetchPolicy, resolver: Resolver, deadline: float
) -> list[IPAddress]:
    """Every address the URL's host stands for, all checked by the guard; refuses if any one fails."""
    host = url.raw_host.decode("ascii").rstrip(".").lower()
    literal = parse_ip_literal(host)
    addresses = [literal] if literal is not None else _resolve(host, resolver, deadline)
    for address in addresses:
        if any(address in network for network in policy.allowed_networks):
            continue
        if reason := refusal_reason(address):
            logger.warning("fetch_refused", host=host, address=str(address), reason=reason)
            raise FetchRefused(f"refusing {_shown(url)}: {host} is a {reason} ({address})")
    return addresses


def _resolve(host: str, resolver: Resolver, deadline: float) -> list[IPAddress]:
    # getaddrinfo has no timeout of its own; waiting on a helper thread gives it the fetch's deadline.
    outcome: queue.Queue[list[str] | Exception] = queue.Queue(maxsize=1)

    def lookup() -> None:
        try:
            outcome.put(list(resolver(host)))
        except Exception as exc:  # handed to the waiting caller, which raises it
            outcome.put(exc)

    threading.Thread(target=lookup, name="sie-resolve", daemon=True).start()
    try:
        result = outcome.get(timeout=max(deadline - time.monotonic(), 0.0))
    except queue.Empty:
        raise FetchTransientError(f"resolving {host} timed out") from None
    if isinstance(result, socket.gaierror) and result.errno in (socket.EAI_NONAME, socket.EAI_NODATA):
        raise FetchFailed(f"host {host} does not exist")
    if isinstance(result, OSError):
        raise FetchTransientError(f"resolving {host} failed: {result}")
    if isinstance(result, Exception):
        raise result
    if not result:
        raise FetchFailed(f"host {host} has no addresses")
    return [_unmapped(ipaddress.ip_address(text)) for text in result]


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address it maps: the socket goes there."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


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
            raise FetchTransientError(f"timed out fetching {_shown(url)}") from None
        except httpx.TransportError as exc:
            raise FetchTransientError(f"fetching {_shown(url)} failed: {exc}") from None
    raise FetchTransientError(f"could not connect to {url.host}: {connect_error}")


def _read_response(
    response: httpx.Response, url: httpx.URL, policy: FetchPolicy, deadline: float
) -> FetchedContent:
    status = response.status_code
    if status == 429 or status >= 500:
        raise FetchTransientError(f"HTTP {status} {response.reason_phrase} from {_shown(url)}")
    if status >= 300 and status != 304:
        raise FetchFailed(f"HTTP {status} {response.reason_phrase} from {_shown(url)}")
    content = b"" if status == 304 else _read_capped_body(response, url, policy, deadline)
    return FetchedContent(
        url=str(url),
        content=content,
        content_type=response.headers.get("content-type"),
        status_code=status,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )


def _read_capped_body(
    response: httpx.Response, url: httpx.URL, policy: FetchPolicy, deadline: float
) -> bytes:
    declared_length = response.headers.get("content-length", "")
    if declared_length.isdigit() and int(declared_length) > policy.max_bytes:
        raise ContentTooLarge(
            f"{_shown(url)} declares {declared_length} bytes, over the {policy.max_bytes}-byte cap"
        )
    body = bytearray()
    try:
        # Counted after decompression, so a small gzip bomb stops at the cap as well.
        for chunk in _decoded_chunks(response, url):
            body += chunk
            if len(body) > policy.max_bytes:
                raise ContentTooLarge(f"{_shown(url)} sends more than the {policy.max_bytes}-byte cap")
            # Read timeouts apply per read; this stops a server that drips bytes forever.
            _remaining(deadline, url)
    except httpx.TimeoutException:
        raise FetchTransientError(f"timed out reading {_shown(url)}") from None
    except zlib.error as exc:
        raise FetchFailed(f"{_shown(url)} sent a body that cannot be decoded: {exc}") from None
    except httpx.TransportError as exc:
        raise FetchTransientError(f"reading {_shown(url)} failed: {exc}") from None
    return bytes(body)


def _decoded_chunks(response: httpx.Response, url: httpx.URL) -> Iterator[bytes]:
    """The body with its Content-Encoding undone, no slice larger than DECODE_SLICE_BYTES.

    httpx inflates each network read in one go, and stacked codings (`gzip, gzip`) multiply: a
    2 KB body became 1 GiB in memory before any cap could be checked. Here every layer yields
    bounded slices, so the cap above stops the body within one slice of it.
    """
    header = response.headers.get("content-encoding", "")
    codings = [
        part.strip().lower() for part in header.split(",") if part.strip().lower() not in ("", "identity")
    ]
    if len(codings) > MAX_CONTENT_CODINGS:
        raise UnsupportedContent(f"{_shown(url)} stacks {len(codings)} content codings ({header})")
    # The bytes as sent; `iter_raw` would refuse a response httpx has already read into memory.
    chunks: Iterator[bytes] = iter(cast(httpx.SyncByteStream, response.stream))
    # Codings are listed in the order they were applied, so they are undone from the last.
    for coding in reversed(codings):
        if coding not in INFLATE_WBITS:
            raise UnsupportedContent(f"{_shown(url)} uses the unsupported content coding {coding!r}")
        chunks = _inflated(chunks, coding)
    return chunks


def _inflated(chunks: Iterator[bytes], coding: str) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(INFLATE_WBITS[coding])
    started = False
    for chunk in chunks:
        pending = chunk
        while pending:
            try:
                piece = decompressor.decompress(pending, DECODE_SLICE_BYTES)
            except zlib.error:
                if coding != "deflate" or started:
                    raise
                # Some servers send raw deflate without the zlib wrapper; httpx accepts that too.
                decompressor, started = zlib.decompressobj(-zlib.MAX_WBITS), True
                continue
            started = True
            pending = decompressor.unconsumed_tail
            yield piece
    yield decompressor.flush()


def _remaining(deadline: float, url: httpx.URL) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchTransientError(f"timed out fetching {_shown(url)}")
    return remaining
