"""The SSRF guard: which addresses a fetch may connect to, and resolving a host within the fetch's deadline.

A host is resolved once and *every* address it resolves to must be public (or inside an explicitly
allowed network); the connection then goes to a vetted address, so a DNS answer that changes
between the check and the connect (DNS rebinding) cannot redirect us.
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
from sie.core.logging import get_logger

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Takes a host name, returns the IP addresses (as text) it resolves to.
Resolver = Callable[[str], Iterable[str]]

# Hosts that inet_aton would read as an IPv4 address: decimal `2130706433`, octal `0177.0.0.1`,
# hex `0x7f.0.0.1`, short `127.1`. Resolvers and browsers accept these spellings too.
NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+)){0,3}$", re.IGNORECASE)
CGNAT_NETWORK = ipaddress.IPv4Network("100.64.0.0/10")
UNIQUE_LOCAL_NETWORK = ipaddress.IPv6Network("fc00::/7")
# NAT64 (RFC 6052): the last 32 bits are the IPv4 address a NAT64 gateway connects to.
NAT64_NETWORK = ipaddress.IPv6Network("64:ff9b::/96")
CLOUD_METADATA_ADDRESS = ipaddress.IPv4Address("169.254.169.254")

logger = get_logger(__name__)


def resolve_with_getaddrinfo(host: str) -> list[str]:
    """The default resolver: every address the system resolver knows for `host`, in its order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# Checked in order; the first that holds names the refusal.
_REFUSALS: tuple[tuple[Callable[[IPAddress], bool], str], ...] = (
    (lambda address: address == CLOUD_METADATA_ADDRESS, "cloud metadata address"),
    (lambda address: address.is_loopback, "loopback address"),
    (lambda address: address.is_unspecified, "unspecified address"),
    (lambda address: address.is_link_local, "link-local address"),
    (lambda address: address in CGNAT_NETWORK, "shared (CGNAT) address"),
    (lambda address: address in UNIQUE_LOCAL_NETWORK, "unique-local address"),
    (lambda address: address.is_multicast, "multicast address"),
    (lambda address: address.is_reserved, "reserved address"),
    (lambda address: address.is_private, "private address"),
    (lambda address: not address.is_global, "non-global address"),
)


def refusal_reason(address: IPAddress) -> str | None:
    """Why connecting to `address` would reach something that is not the public internet, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal_reason(address.ipv4_mapped)
        if address in NAT64_NETWORK:
            # Judged by where the gateway will connect, not by the (reserved) NAT64 prefix.
            reason = refusal_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
            return f"{reason} behind NAT64" if reason else None
        embedded_v4 = address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded_v4 is not None and (reason := refusal_reason(embedded_v4)):
            return f"{reason} embedded in a 6to4/Teredo address"
    return next((reason for refused, reason in _REFUSALS if refused(address)), None)


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
    literal = parse_ip_literal(host)
    addresses = [literal] if literal is not None else resolve(host, resolver, deadline)
    for address in addresses:
        if any(address in network for network in allowed_networks):
            continue
        if reason := refusal_reason(address):
            logger.warning("fetch_refused", host=host, address=str(address), reason=reason)
            raise FetchRefused(f"refusing {shown_url}: {host} is a {reason} ({address})")
    return addresses


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
