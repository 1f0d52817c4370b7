"""URLs as the fetch sees them: parsed, their IP hosts canonical, shown without passwords."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx

from sie.core.errors import FetchFailed, FetchRefused
from sie.core.fetch.guard import parse_ip_literal
from sie.core.logging import redact_text


def parse_url(raw: str, *, base: httpx.URL | None = None) -> httpx.URL:
    """`raw` (relative to `base`, for a redirect) as an http(s) URL with a host, else FetchFailed/Refused."""
    try:
        canonical = _with_canonical_ip_host(raw)
        parsed = base.join(canonical) if base is not None else httpx.URL(canonical)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchFailed(f"invalid URL {shown(raw)!r}: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(f"refusing {shown(raw)!r}: only http and https URLs may be fetched")
    if not parsed.raw_host:
        raise FetchFailed(f"invalid URL {shown(raw)!r}: no host")
    return parsed


def shown(url: httpx.URL | str) -> str:
    """`url` fit for messages that end up on jobs and in logs: without a password."""
    return redact_text(str(url))


def origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


def host_of(url: httpx.URL) -> str:
    """The host the guard judges: lower case, without the trailing dot of a fully qualified name."""
    return url.raw_host.decode("ascii").rstrip(".").lower()


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
