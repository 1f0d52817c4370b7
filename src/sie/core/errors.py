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
