"""Where a fetch must never connect: the IANA special-purpose address registries as an explicit table.

`ipaddress.is_global` is not used: its answer changed between Python releases (3.11.7 calls the
Oracle Cloud metadata address 192.0.0.192 global) and it still leaves out parts of the registries.
`SPECIAL_BLOCKS` holds every row of the IANA IPv4 and IPv6 Special-Purpose Address Registries whose
"Globally Reachable" is False, plus what those registries leave to others: multicast, IPv6 space
outside global unicast (2000::/3), deprecated site-local, and the clouds' metadata endpoints. The
most specific block that holds an address names the refusal.

Rows marked globally reachable that lie inside a refused block are refused with it: the anycast
addresses of PCP and TURN (192.0.0.9, 192.0.0.10, 2001:1::1-3) and AMT, AS112-v6, ORCHIDv2 and
DET prefixes inside 2001::/23 are protocol endpoints and identifiers, never web servers.

IPv6 blocks that carry an IPv4 address are judged by that address too: IPv4-mapped, NAT64 and 6to4
addresses are reached through it, so it alone decides; IPv4-compatible (deprecated) and Teredo
addresses are refused either way, but name the IPv4 address inside when that one is refused too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPv4Reader = Callable[[ipaddress.IPv6Address], ipaddress.IPv4Address]


def _last_32_bits(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)


def _teredo_client(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    # RFC 4380: the client's IPv4 address is stored bit-inverted in the last 32 bits.
    return ipaddress.IPv4Address(~int(address) & 0xFFFF_FFFF)


def _sixtofour(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFF_FFFF)


@dataclass(frozen=True)
class SpecialBlock:
    """A block of addresses and what an address in it is. `refused=False` marks a block that carries
    an IPv4 address (`ipv4_inside`) the connection really goes to: only that address can refuse it."""

    network: IPNetwork
    name: str
    refused: bool = True
    ipv4_inside: IPv4Reader | None = None


def _block(
    cidr: str, name: str, *, refused: bool = True, ipv4_inside: IPv4Reader | None = None
) -> SpecialBlock:
    return SpecialBlock(ipaddress.ip_network(cidr), name, refused, ipv4_inside)


CLOUD_METADATA = "cloud metadata address"
# Metadata and host endpoints of the clouds; most lie inside a refused block already, and are named
# here so the refusal says what they are and an allowed network around them does not open them.
CLOUD_METADATA_BLOCKS = (
    _block("169.254.169.254/32", CLOUD_METADATA),  # AWS, GCP, Azure, OpenStack, DigitalOcean, Hetzner
    _block("169.254.170.2/32", CLOUD_METADATA),  # AWS ECS task metadata and credentials
    _block("169.254.0.23/32", CLOUD_METADATA),  # Tencent Cloud (metadata.tencentyun.com)
    _block("100.100.100.200/32", CLOUD_METADATA),  # Alibaba Cloud
    _block("192.0.0.192/32", CLOUD_METADATA),  # Oracle Cloud
    _block("168.63.129.16/32", CLOUD_METADATA),  # Azure WireServer: a public address, host-only service
    _block("fd00:ec2::254/128", CLOUD_METADATA),  # AWS (IPv6)
    _block("fd20:ce::254/128", CLOUD_METADATA),  # GCP (IPv6)
)
# Names that reach a metadata service, and their subdomains; refused before anything is resolved.
CLOUD_METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
        "metadata.packet.net",
    }
)

IPV4_BLOCKS = (
    _block("0.0.0.0/8", "this-network address"),  # RFC 791
    _block("0.0.0.0/32", "unspecified address"),  # RFC 1122
    _block("10.0.0.0/8", "private address"),  # RFC 1918
    _block("100.64.0.0/10", "shared (CGNAT) address"),  # RFC 6598
    _block("127.0.0.0/8", "loopback address"),  # RFC 1122
    _block("169.254.0.0/16", "link-local address"),  # RFC 3927
    _block("172.16.0.0/12", "private address"),  # RFC 1918
    _block("192.0.0.0/24", "IETF protocol assignment address"),  # RFC 6890
    _block("192.0.0.0/29", "IPv4 service continuity address"),  # RFC 7335
    _block("192.0.0.8/32", "IPv4 dummy address"),  # RFC 7600
    _block("192.0.0.170/32", "NAT64/DNS64 discovery address"),  # RFC 8880
    _block("192.0.0.171/32", "NAT64/DNS64 discovery address"),  # RFC 8880
    _block("192.0.2.0/24", "documentation address"),  # RFC 5737
    _block("192.88.99.0/24", "deprecated 6to4 relay anycast address"),  # RFC 7526
    _block("192.88.99.2/32", "6a44 relay anycast address"),  # RFC 6751
    _block("192.168.0.0/16", "private address"),  # RFC 1918
    _block("198.18.0.0/15", "benchmarking address"),  # RFC 2544
    _block("198.51.100.0/24", "documentation address"),  # RFC 5737
    _block("203.0.113.0/24", "documentation address"),  # RFC 5737
    _block("224.0.0.0/4", "multicast address"),  # RFC 5771 (the multicast registry)
    _block("240.0.0.0/4", "reserved address"),  # RFC 1112
    _block("255.255.255.255/32", "broadcast address"),  # RFC 919
)

IPV6_BLOCKS = (
    _block("::/128", "unspecified address"),  # RFC 4291
    _block("::1/128", "loopback address"),  # RFC 4291
    _block("::ffff:0:0/96", "IPv4-mapped address", refused=False, ipv4_inside=_last_32_bits),  # RFC 4291
    _block("::/96", "IPv4-compatible address (deprecated)", ipv4_inside=_last_32_bits),  # RFC 4291
    _block("64:ff9b::/96", "NAT64 address", refused=False, ipv4_inside=_last_32_bits),  # RFC 6052
    _block("64:ff9b:1::/48", "local-use NAT64 address"),  # RFC 8215
    _block("100::/64", "discard-only address"),  # RFC 6666
    _block("100:0:0:1::/64", "dummy address"),  # RFC 9780
    _block("2001::/23", "IETF protocol assignment address"),  # RFC 2928
    _block("2001::/32", "Teredo address", ipv4_inside=_teredo_client),  # RFC 4380
    _block("2001:2::/48", "benchmarking address"),  # RFC 5180
    _block("2001:10::/28", "deprecated ORCHID address"),  # RFC 4843
    _block("2001:db8::/32", "documentation address"),  # RFC 3849
    _block("2002::/16", "6to4 address", refused=False, ipv4_inside=_sixtofour),  # RFC 3056
    _block("3fff::/20", "documentation address"),  # RFC 9637
    _block("5f00::/16", "SRv6 segment identifier"),  # RFC 9602
    _block("fc00::/7", "unique-local address"),  # RFC 4193
    _block("fe80::/10", "link-local address"),  # RFC 4291
    _block("fec0::/10", "site-local address (deprecated)"),  # RFC 3879
    _block("ff00::/8", "multicast address"),  # RFC 4291
    # Everything outside global unicast 2000::/3 is reserved by the IETF (the IPv6 address space registry).
    _block("::/3", "reserved address"),
    _block("4000::/2", "reserved address"),
    _block("8000::/1", "reserved address"),
)

# Most specific first: the first block that holds an address is the one that describes it.
SPECIAL_BLOCKS = tuple(
    sorted(
        (*CLOUD_METADATA_BLOCKS, *IPV4_BLOCKS, *IPV6_BLOCKS),
        key=lambda block: block.network.prefixlen,
        reverse=True,
    )
)


def special_block(address: IPAddress) -> SpecialBlock | None:
    """The most specific special-purpose block that holds `address`; None for an ordinary one."""
    return next((block for block in SPECIAL_BLOCKS if address in block.network), None)


def is_cloud_metadata(address: IPAddress) -> bool:
    block = special_block(address)
    return block is not None and block.name == CLOUD_METADATA


def is_cloud_metadata_host(host: str) -> bool:
    """Whether `host` (lower case, no trailing dot) names a cloud metadata service."""
    return any(host == name or host.endswith(f".{name}") for name in CLOUD_METADATA_HOSTS)


def refusal_reason(address: IPAddress) -> str | None:
    """Why connecting to `address` would reach something that is not the public internet, or None."""
    block = special_block(address)
    if block is None:
        return None
    inside = block.ipv4_inside(address) if block.ipv4_inside and address.version == 6 else None
    if inside is not None and (inner := refusal_reason(inside)):
        return f"{inner} embedded in {block.name}"
    return block.name if block.refused else None
