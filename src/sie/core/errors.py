"""The one error tree of SIE.

    SieError
    ├── TransientError          retry with backoff (Celery autoretry, kopf TemporaryError)
    │   ├── FetchTransientError     timeouts, connection resets, 429/5xx from a remote site
    │   ├── ServiceUnavailable      PostgreSQL, Redis or the search backend is down
    └── PermanentError          retrying cannot help (job `failed`, kopf PermanentError)
        ├── FetchRefused            the URL points at a private/loopback/link-local address
        ├── FetchFailed             404, 410, too large, too many redirects
        ├── UnsupportedContent      a type we cannot extract text from
        ├── ContentTooLarge         over a configured cap
        └── EmptyContent            nothing to index after extraction

Third-party exceptions are mapped into this tree at the boundary that calls the library.
"""

from __future__ import annotations


class SieError(Exception):
    """Base of every error SIE raises on purpose."""

    #: A short machine-readable reason, stored on jobs and used as a metric label.
    kind: str = "error"


class TransientError(SieError):
    """Waiting and retrying may help."""

    kind = "transient"


class PermanentError(SieError):
    """Retrying cannot help; the input or the request is at fault."""

    kind = "permanent"


class FetchTransientError(TransientError):
    kind = "fetch_transient"


class ServiceUnavailable(TransientError):
    kind = "service_unavailable"

    def __init__(self, service: str, detail: str = "") -> None:
        self.service = service
        super().__init__(f"{service} unavailable" + (f": {detail}" if detail else ""))


class FetchRefused(PermanentError):
    kind = "fetch_refused"


class FetchFailed(PermanentError):
    kind = "fetch_failed"


class UnsupportedContent(PermanentError):
    kind = "unsupported_content"


class ContentTooLarge(PermanentError):
    kind = "content_too_large"


class EmptyContent(PermanentError):
    kind = "empty_content"


class SourceConfigError(ValueError):
    """A source's declared config cannot work (the API answers 422 with this message)."""


class MalformedListing(PermanentError):
    """A feed, URL list or sitemap that cannot be read: that poll fails with this reason."""

    kind = "malformed"


class RobotsDisallowed(PermanentError):
    """robots.txt forbids SIE to fetch the URL."""

    kind = "robots_disallowed"


class PollBudgetExhausted(TransientError):
    """The poll ran out of its time budget (SOURCE_POLL_BUDGET_SECONDS)."""

    kind = "poll_budget_exhausted"


class PollInterrupted(TransientError):
    """The scheduler is stopping; the poll ends early and the source is due again at once."""

    kind = "interrupted"


class RobotsUnavailable(TransientError):
    """robots.txt answered 5xx or could not be reached: RFC 9309 says to assume everything is disallowed."""

    kind = "robots_unavailable"


class SourceExists(Exception):
    """`POST /v1/sources` with a name the tenant already uses."""
