"""The SSRF guard's address table, checked against the IANA special-purpose registries' own rows.

`IPV4_REGISTRY` and `IPV6_REGISTRY` are the entries of the IANA IPv4 and IPv6 Special-Purpose
Address Registries (iana-ipv4-special-registry, iana-ipv6-special-registry: address block, name,
RFC, "Globally Reachable"), written out here so the test needs no network. Every block marked not
globally reachable must be refused at its first, middle and last address; blocks marked globally
reachable (outside a refused one) and ordinary public addresses must pass. Nothing leaves the
process: names go through a stub resolver and requests to a MockTransport that records them.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, replace

import pytest

from sie.core.errors import FetchRefused
from sie.core.fetch import FetchPolicy, IPNetwork, fetch_url, refusal_reason
from tests.unit.test_fetch import RecordingTransport


@dataclass(frozen=True)
class RegistryRow:
    block: str
    name: str
    rfc: str
    # The registry's "Globally Reachable" column; None where it says N/A or the row is deprecated.
    globally_reachable: bool | None

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.block)


IPV4_REGISTRY = [
    RegistryRow("0.0.0.0/8", '"This network"', "RFC 791, Section 3.2", False),
    RegistryRow("0.0.0.0/32", '"This host on this network"', "RFC 1122, Section 3.2.1.3", False),
    RegistryRow("10.0.0.0/8", "Private-Use", "RFC 1918", False),
    RegistryRow("100.64.0.0/10", "Shared Address Space", "RFC 6598", False),
    RegistryRow("127.0.0.0/8", "Loopback", "RFC 1122, Section 3.2.1.3", False),
    RegistryRow("169.254.0.0/16", "Link Local", "RFC 3927", False),
    RegistryRow("172.16.0.0/12", "Private-Use", "RFC 1918", False),
    RegistryRow("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890, Section 2.1", False),
    RegistryRow("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", False),
    RegistryRow("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", False),
    RegistryRow("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", True),
    RegistryRow("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    RegistryRow("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 Section 2.2", False),
    RegistryRow("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 Section 2.2", False),
    RegistryRow("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", False),
    RegistryRow("192.31.196.0/24", "AS112-v4", "RFC 7535", True),
    RegistryRow("192.52.193.0/24", "AMT", "RFC 7450", True),
    RegistryRow("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", None),
    RegistryRow("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751", False),
    RegistryRow("192.168.0.0/16", "Private-Use", "RFC 1918", False),
    RegistryRow("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", True),
    RegistryRow("198.18.0.0/15", "Benchmarking", "RFC 2544", False),
    RegistryRow("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", False),
    RegistryRow("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", False),
    RegistryRow("240.0.0.0/4", "Reserved", "RFC 1112, Section 4", False),
    RegistryRow("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919 Section 7", False),
]

IPV6_REGISTRY = [
    RegistryRow("::1/128", "Loopback Address", "RFC 4291", False),
    RegistryRow("::/128", "Unspecified Address", "RFC 4291", False),
    RegistryRow("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", False),
    RegistryRow("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", True),
    RegistryRow("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215", False),
    RegistryRow("100::/64", "Discard-Only Address Block", "RFC 6666", False),
    RegistryRow("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", False),
    RegistryRow("2001::/23", "IETF Protocol Assignments", "RFC 2928", False),
    RegistryRow("2001::/32", "TEREDO", "RFC 4380, RFC 8190", None),
    RegistryRow("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", True),
    RegistryRow("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    RegistryRow("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665", True),
    RegistryRow("2001:2::/48", "Benchmarking", "RFC 5180, RFC Errata 1752", False),
    RegistryRow("2001:3::/32", "AMT", "RFC 7450", True),
    RegistryRow("2001:4:112::/48", "AS112-v6", "RFC 7535", True),
    RegistryRow("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", None),
    RegistryRow("2001:20::/28", "ORCHIDv2", "RFC 7343", True),
    RegistryRow("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", True),
    RegistryRow("2001:db8::/32", "Documentation", "RFC 3849", False),
    RegistryRow("2002::/16", "6to4", "RFC 3056", None),
    RegistryRow("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", True),
    RegistryRow("3fff::/20", "Documentation", "RFC 9637", False),
    RegistryRow("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", False),
    RegistryRow("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190", False),
    RegistryRow("fe80::/10", "Link-Local Unicast", "RFC 4291", False),
]

REGISTRY = IPV4_REGISTRY + IPV6_REGISTRY
# An IPv4-mapped address is the IPv4 address it maps (the socket connects there): judged as that.
MAPPED = ipaddress.ip_network("::ffff:0:0/96")
NOT_REACHABLE = [row for row in REGISTRY if row.globally_reachable is False and row.network != MAPPED]
# Rows marked reachable that lie inside a refused block are refused with it (see `fetch.special`).
REACHABLE = [
    row
    for row in REGISTRY
    if row.globally_reachable
    and not any(
        row.network.subnet_of(other.network)
        for other in NOT_REACHABLE
        if other.network.version == row.network.version
    )
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]


def samples(network: IPNetwork) -> list[str]:
    """The first, middle and last address of a block."""
    return [str(network[0]), str(network[network.num_addresses // 2]), str(network[-1])]


def url_for(address: str) -> str:
    return f"http://[{address}]/" if ":" in address else f"http://{address}/"


def no_names(host: str) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture
def strict_policy() -> FetchPolicy:
    return replace(FetchPolicy.from_settings(), allowed_networks=(), timeout=5.0)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


def test_the_table_names_every_block_the_registries_mark_not_globally_reachable() -> None:
    # Imported here, so the behaviour tests below also run against a guard without this table.
    from sie.core.fetch.special import SPECIAL_BLOCKS

    table = {block.network for block in SPECIAL_BLOCKS}
    missing = [row.block for row in REGISTRY if row.globally_reachable is False and row.network not in table]
    assert missing == []


@pytest.mark.parametrize("row", NOT_REACHABLE, ids=lambda row: row.block)
def test_every_address_not_globally_reachable_is_refused_before_connecting(
    row: RegistryRow, strict_policy: FetchPolicy, transport: RecordingTransport
) -> None:
    for address in samples(row.network):
        with pytest.raises(FetchRefused, match="not publicly reachable"):
            fetch_url(url_for(address), policy=strict_policy, resolver=no_names, transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize("row", REACHABLE, ids=lambda row: row.block)
def test_blocks_the_registries_mark_globally_reachable_pass(row: RegistryRow) -> None:
    middle = row.network[row.network.num_addresses // 2]
    assert refusal_reason(middle) is None


@pytest.mark.parametrize(
    ("mapped", "refused"),
    [
        ("::ffff:0.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:192.0.0.192", True),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_an_ipv4_mapped_address_is_judged_as_the_ipv4_address_it_maps(mapped: str, refused: bool) -> None:
    assert (refusal_reason(ipaddress.ip_address(mapped)) is not None) is refused


@pytest.mark.parametrize("address", [*PUBLIC, "64:ff9b::808:808", "2002:808:808::1"])
def test_ordinary_public_addresses_are_fetched(
    address: str, strict_policy: FetchPolicy, transport: RecordingTransport
) -> None:
    assert (
        fetch_url(url_for(address), policy=strict_policy, resolver=no_names, transport=transport).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("192.0.0.192", "cloud metadata"),  # Oracle Cloud: fetched and ingested before
        ("100.100.100.200", "cloud metadata"),  # Alibaba Cloud
        ("168.63.129.16", "cloud metadata"),  # Azure WireServer, a public address
        ("fd00:ec2::254", "cloud metadata"),  # AWS over IPv6
        ("192.0.0.100", "IETF protocol assignment"),
        ("192.88.99.1", "deprecated 6to4 relay"),
        ("3fff::1", "documentation"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("64:ff9b::c000:c0", "cloud metadata address embedded in NAT64"),
        ("2002:c000:c0::1", "cloud metadata address embedded in 6to4"),
        ("::8.8.8.8", "IPv4-compatible"),
        # Teredo: a public client (8.8.8.8, bit-inverted) is refused too; a refused one is named.
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo address"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fff5", "private address embedded in Teredo"),
    ],
)
def test_special_addresses_are_refused_saying_what_they_are(address: str, reason: str) -> None:
    assert reason in (refusal_reason(ipaddress.ip_address(address)) or "")


def test_the_answers_do_not_come_from_python_s_ipaddress_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's is_global/is_private changed between releases: with all of them saying "public",
    the guard's answers stay the same."""
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        monkeypatch.setattr(cls, "is_global", property(lambda _self: True))
        for flag in (
            "is_private",
            "is_reserved",
            "is_loopback",
            "is_link_local",
            "is_multicast",
            "is_unspecified",
        ):
            monkeypatch.setattr(cls, flag, property(lambda _self: False))
    for row in NOT_REACHABLE:
        assert all(refusal_reason(ipaddress.ip_address(a)) for a in samples(row.network)), row.block


@pytest.mark.parametrize(
    "host",
    [
        "metadata.google.internal",
        "METADATA.GOOGLE.INTERNAL.",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    ],
)
def test_cloud_metadata_names_are_refused_without_resolving_them(
    host: str, strict_policy: FetchPolicy, transport: RecordingTransport
) -> None:
    looked_up: list[str] = []

    def public_everywhere(name: str) -> list[str]:
        looked_up.append(name)
        return ["93.184.215.14"]

    with pytest.raises(FetchRefused, match="cloud metadata"):
        fetch_url(
            f"http://{host}/computeMetadata/v1/",
            policy=strict_policy,
            resolver=public_everywhere,
            transport=transport,
        )
    assert looked_up == [] and transport.requests == []


@pytest.mark.parametrize(
    ("allowed", "address", "fetched"),
    [
        ("10.0.0.0/8", "10.1.2.3", True),
        ("100.64.0.0/10", "100.100.100.200", False),
        ("169.254.0.0/16", "169.254.169.254", False),
        ("169.254.0.0/16", "169.254.10.10", True),
        ("169.254.169.254/32", "169.254.169.254", True),
        ("fc00::/7", "fd00:ec2::254", False),
    ],
)
def test_the_allow_list_opens_its_networks_but_a_metadata_address_only_by_itself(
    allowed: str, address: str, fetched: bool, strict_policy: FetchPolicy, transport: RecordingTransport
) -> None:
    policy = replace(strict_policy, allowed_networks=(ipaddress.ip_network(allowed),))
    if fetched:
        assert (
            fetch_url(url_for(address), policy=policy, resolver=no_names, transport=transport).status_code
            == 200
        )
    else:
        with pytest.raises(FetchRefused, match="cloud metadata"):
            fetch_url(url_for(address), policy=policy, resolver=no_names, transport=transport)
        assert transport.requests == []
