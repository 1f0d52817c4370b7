"""The SSRF guard: which addresses a fetch may connect to, and resolving a host within the fetch's deadline.

A host is resolved once and *every* address it resolves to must be public (or inside an explicitly
allowed network); the connection then goes to a vetted address, so a DNS answer that changes
between the check and the connect (DNS rebinding) cannot redirect us. What is not public is the
table in `special`; the names of cloud metadata services are refused before they are resolved.
"""

from __future__ import annotations

import ipaddress
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from sie.core.errors import FetchFailed, FetchRefused, FetchTransientError
from sie.core.fetch.special import (
    IPAddress,
    IPNetwork,
    is_cloud_metadata,
    is_cloud_metadata_host,
    refusal_reason,
)
from sie.core.logging import get_logger

# Takes a host name, returns the IP addresses (as text) it resolves to.
Resolver = Callable[[str], Iterable[str]]

# Hosts that inet_aton would read as an IPv4 address: decimal `2130706433`, octal `0177.0.0.1`,
# hex `0x7f.0.0.1`, short `127.1`. Resolvers and browsers accept these spellings too.
NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+)){0,3}$", re.IGNORECASE)

logger = get_logger(__name__)


def resolve_with_getaddrinfo(host: str) -> list[str]:
    """The default resolver: every address the system resolver knows for `host`, in its order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


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
    return unmapped(address)


def unmapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address it maps: the socket goes there."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def vetted_addresses(
    host: str,
    *,
    shown_url: str,
    allowed_networks: Sequence[IPNetwork],
    resolver: Resolver,
    deadline: float,
) -> list[IPAddress]:
    """Every address `host` stands for, all checked by the guard; refuses if any one fails."""
    if is_cloud_metadata_host(host):
        logger.warning("fetch_refused", host=host, reason="cloud metadata host name")
        raise FetchRefused(f"refusing {shown_url}: {host} names a cloud metadata service")
    literal = parse_ip_literal(host)
    addresses = [literal] if literal is not None else resolve(host, resolver, deadline)
    for address in addresses:
        if is_allowed(address, allowed_networks):
            continue
        if reason := refusal_reason(address):
            logger.warning("fetch_refused", host=host, address=str(address), reason=reason)
            raise FetchRefused(
                f"refusing {shown_url}: {host} ({address}) is not publicly reachable: {reason}"
            )
    return addresses


def is_allowed(address: IPAddress, allowed_networks: Sequence[IPNetwork]) -> bool:
    """Whether the operator allowed `address` (FETCH_ALLOWED_NETWORKS) although it is not public."""
    if is_cloud_metadata(address):
        # A network allowed for internal services (10.0.0.0/8, a Tailscale 100.64.0.0/10) must not
        # open the metadata endpoint inside it: only allowing that one address does.
        return any(network.num_addresses == 1 and address in network for network in allowed_networks)
    return any(address in network for network in allowed_networks)


def resolve(host: str, resolver: Resolver, deadline: float) -> list[IPAddress]:
    """The addresses `resolver` gives for `host`, waited for no longer than the fetch's deadline."""
    result = _lookup_until(host, resolver, deadline)
    if isinstance(result, socket.gaierror) and result.errno in (socket.EAI_NONAME, socket.EAI_NODATA):
        raise FetchFailed(f"host {host} does not exist")
    if isinstance(result, OSError):
        raise FetchTransientError(f"resolving {host} failed: {result}")
    if isinstance(result, Exception):
        raise result
    if not result:
        raise FetchFailed(f"host {host} has no addresses")
    return [unmapped(ipaddress.ip_address(text)) for text in result]


def _lookup_until(host: str, resolver: Resolver, deadline: float) -> list[str] | Exception:
    # getaddrinfo has no timeout of its own; waiting on a helper thread gives it the fetch's deadline.
    outcome: queue.Queue[list[str] | Exception] = queue.Queue(maxsize=1)

    def lookup() -> None:
        try:
            outcome.put(list(resolver(host)))
        except Exception as exc:  # handed to the waiting caller, which raises it
            outcome.put(exc)

    threading.Thread(target=lookup, name="sie-resolve", daemon=True).start()
    try:
        return outcome.get(timeout=max(deadline - time.monotonic(), 0.0))
    except queue.Empty:
        raise FetchTransientError(f"resolving {host} timed out") from None
