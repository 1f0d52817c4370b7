"""Fetch a URL without letting it reach inside the network it runs in (SSRF guard).

- `special`: the addresses that are not public (the IANA special-purpose registries, cloud metadata);
- `guard`: which addresses may be connected to, and resolving a host within the fetch's deadline;
- `urls`: parsing, canonical IP hosts, URLs shown without passwords;
- `codings`: gzip/deflate undone in bounded slices, so a decompression bomb meets the size cap;
- `client`: `fetch_url`, its `FetchPolicy` and the `FetchedContent` it returns.

The public names are re-exported here, as httpx does: callers import from `sie.core.fetch`.
"""

from sie.core.fetch.client import FetchedContent, FetchPolicy, fetch_url
from sie.core.fetch.guard import Resolver, parse_ip_literal
from sie.core.fetch.special import IPAddress, IPNetwork, refusal_reason

__all__ = [
    "FetchPolicy",
    "FetchedContent",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "fetch_url",
    "parse_ip_literal",
    "refusal_reason",
]
