"""Typed source configs: each type reads the declared spec into its own config and validates it.

Like keda's scalers, which parse a trigger's loose metadata into a typed struct with `Validate()`,
a source type declares a config class (`SourceConfig`): `from_spec` takes the fields the type uses
from the `SourceSpec` and refuses a spec of the wrong shape; `validate` checks the values. Its
`LOCATIONS` says which of `url`/`urls` the type takes; the CRD's CEL rule is rendered from it
(`scripts/sync_crds.py`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Protocol, Self
from urllib.parse import urlsplit

from sie.core.errors import SourceConfigError


@dataclass(frozen=True)
class SourceSpec:
    """The declared locations of a source, as the API and the database hold them (loose, untyped)."""

    url: str | None = None
    urls: tuple[str, ...] = ()


class Locations(enum.Enum):
    """Which of `url` / `urls` a type takes; each value is the CEL condition the CRD checks for it."""

    URL = "has(self.url) && !has(self.urls)"
    URL_OR_URLS = "has(self.url) != has(self.urls)"

    def accepts(self, spec: SourceSpec) -> bool:
        if self is Locations.URL:
            return bool(spec.url) and not spec.urls
        return bool(spec.url) != bool(spec.urls)

    @property
    def needs(self) -> str:
        """What the rule asks for, in words (the CRD's message)."""
        return "url and no urls" if self is Locations.URL else "either url or urls, not both"


class SourceConfig(Protocol):
    """A type's typed config: read from the declared spec, then validated (`SourceConfigError`)."""

    LOCATIONS: ClassVar[Locations]

    @classmethod
    def from_spec(cls, spec: SourceSpec) -> Self:
        """The fields this type uses; raises `SourceConfigError` when the spec has the wrong shape."""
        ...

    def validate(self) -> None:
        """Raise `SourceConfigError` for values the type cannot use."""


@dataclass(frozen=True)
class UrlConfig:
    """The config of a type that reads one listing document at `url`; a subclass names its refusal."""

    LOCATIONS: ClassVar[Locations] = Locations.URL
    REFUSAL: ClassVar[str] = "this source type needs `url` and no `urls`"

    url: str

    @classmethod
    def from_spec(cls, spec: SourceSpec) -> Self:
        if spec.url is None or not cls.LOCATIONS.accepts(spec):
            raise SourceConfigError(cls.REFUSAL)
        return cls(url=spec.url)

    def validate(self) -> None:
        require_listing_url(self.url)


def require_listing_url(url: str) -> None:
    """Raise `SourceConfigError` unless the listing's `url` is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        raise SourceConfigError(f"`url` is not an http(s) URL SIE can fetch: {url[:200]}")
