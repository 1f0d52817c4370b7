"""The one error tree of SIE.

    SieError                        500  every error SIE raises on purpose
    ├── TransientError              503  retry with backoff (Celery autoretry, kopf TemporaryError);
    │   │                                the API adds `Retry-After` to each of these
    │   ├── FetchTransientError          timeouts, connection resets, 429/5xx from a remote site
    │   ├── ServiceUnavailable           PostgreSQL, Redis or the search backend is down
    │   ├── RateLimited             429  the key's window for a priority is used up
    │   ├── PollBudgetExhausted          a poll ran out of its time budget
    │   ├── PollInterrupted              the scheduler is stopping; the source is due again at once
    │   └── RobotsUnavailable            robots.txt answered 5xx or could not be reached
    └── PermanentError              500  retrying cannot help (job `failed`, kopf PermanentError)
        ├── FetchRefused            422  the URL points at a private/loopback/link-local address
        ├── FetchFailed             502  404, 410, too large, too many redirects
        ├── MalformedListing        502  a feed, URL list or sitemap that cannot be read
        ├── RobotsDisallowed        422  robots.txt forbids SIE to fetch the URL
        ├── UnsupportedContent      415  a type we cannot extract text from
        ├── ContentTooLarge         413  over a configured cap
        ├── EmptyContent            422  nothing to index after extraction
        └── RequestRejected         422  the API refuses the request as sent (SIE never answers 400)
            ├── Unauthorized        401  no X-API-Key, or an unknown or revoked key
            ├── Forbidden           403  the key lacks the scope, or acts for another tenant
            ├── NotFound            404  no such object for the caller's tenant
            ├── Conflict            409  the request conflicts with the current state
            │   ├── SourceExists         `POST /v1/sources` with a name the tenant already uses
            │   └── IdempotencyKeyReused the same Idempotency-Key with another body
            ├── PayloadTooLarge     413  a body, file or batch over its configured limit
            ├── UnsupportedMediaType 415 an uploaded file of a type SIE cannot read
            └── InvalidRequest      422  a value that cannot work, outside a single field's schema
                ├── SourceConfigError    a source's declared type, URL(s) and settings do not fit
                └── UnstorableValue      a value the database cannot store

Each class carries the HTTP status the API answers with (`status_code`) and a `detail` that is safe
to show to any caller: an error whose message is written for the caller (`message_is_public`) answers
with it, any other with its class's `public_message`, so a URL, a driver message or a secret in the
message of a pipeline error never reaches a response. The API turns them into responses in one
handler (`sie_api.errors`); third-party exceptions are mapped into this tree at the boundary that
calls the library (the database's in `sie.core.db.database_errors`).

The operator adds leaves for the Kubernetes and SIE APIs it calls (`sie_operator.kube`,
`sie_operator.engine`). `IngestAborted` (the `sie ingest` command's own stop signal) and
`ConfigError` (settings that cannot start a process, raised before anything else runs) are not
domain errors and stay with their code.
"""

from __future__ import annotations

from typing import ClassVar

# Seconds a client is asked to wait before retrying a transient failure.
RETRY_AFTER_SECONDS = 5


class SieError(Exception):
    """Base of every error SIE raises on purpose."""

    #: A short machine-readable reason, stored on jobs and used as a metric label.
    kind: str = "error"
    #: The HTTP status the API answers with.
    status_code: int = 500
    #: What the API answers when the message itself is not meant for the caller.
    public_message: ClassVar[str] = "internal error"
    #: True when the message is written for the caller: it never holds a secret, and quotes of the
    #: request go no further than naming what is at fault (a field, a scope, a source's URL).
    message_is_public: ClassVar[bool] = False
    #: Seconds to wait before trying again (`Retry-After`), for errors that waiting can cure.
    retry_after: int | None = None

    @property
    def detail(self) -> str:
        """The error as any caller may read it."""
        return str(self) if self.message_is_public else self.public_message

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the answer."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class TransientError(SieError):
    """Waiting and retrying may help."""

    kind = "transient"
    status_code = 503
    public_message = "temporarily unavailable; retry later"
    retry_after = RETRY_AFTER_SECONDS


class PermanentError(SieError):
    """Retrying cannot help; the input or the request is at fault."""

    kind = "permanent"


# Transient errors...


class FetchTransientError(TransientError):
    kind = "fetch_transient"
    public_message = "the remote site did not answer in time; retry later"


class ServiceUnavailable(TransientError):
    kind = "service_unavailable"

    def __init__(self, service: str, reason: str = "") -> None:
        self.service = service
        super().__init__(f"{service} unavailable" + (f": {reason}" if reason else ""))

    @property
    def detail(self) -> str:
        # The service's name only: the reason may quote a driver's message, with hosts or users in it.
        return f"{self.service} is temporarily unavailable; retry later"


class RateLimited(TransientError):
    """The key's rate limit for one priority is used up until its window ends."""

    kind = "rate_limited"
    status_code = 429
    message_is_public = True

    def __init__(self, priority: str, *, limit: int, remaining: int, retry_after: int) -> None:
        self.limit = limit
        self.remaining = remaining
        self.retry_after = retry_after
        super().__init__(f"rate limit for '{priority}' priority exceeded ({limit} per window)")

    @property
    def headers(self) -> dict[str, str]:
        return {
            **super().headers,
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
        }


class PollBudgetExhausted(TransientError):
    """The poll ran out of its time budget (SOURCE_POLL_BUDGET_SECONDS)."""

    kind = "poll_budget_exhausted"


class PollInterrupted(TransientError):
    """The scheduler is stopping; the poll ends early and the source is due again at once."""

    kind = "interrupted"


class RobotsUnavailable(TransientError):
    """robots.txt answered 5xx or could not be reached: RFC 9309 says to assume everything is disallowed."""

    kind = "robots_unavailable"


# Permanent errors of the pipeline...


class FetchRefused(PermanentError):
    kind = "fetch_refused"
    status_code = 422
    public_message = "the URL points at an address SIE may not fetch"


class FetchFailed(PermanentError):
    kind = "fetch_failed"
    status_code = 502
    public_message = "the remote site refused or failed the fetch"


class MalformedListing(PermanentError):
    """A feed, URL list or sitemap that cannot be read: that poll fails with this reason."""

    kind = "malformed"
    status_code = 502
    public_message = "the source's listing cannot be read"


class RobotsDisallowed(PermanentError):
    """robots.txt forbids SIE to fetch the URL."""

    kind = "robots_disallowed"
    status_code = 422
    public_message = "the site's robots.txt forbids SIE to fetch the URL"


class UnsupportedContent(PermanentError):
    kind = "unsupported_content"
    status_code = 415
    public_message = "the content is of a type SIE cannot read"


class ContentTooLarge(PermanentError):
    kind = "content_too_large"
    status_code = 413
    public_message = "the content is over a configured size limit"


class EmptyContent(PermanentError):
    kind = "empty_content"
    status_code = 422
    public_message = "no text found in the content"


# Requests the API refuses: their messages are written for the caller...


class RequestRejected(PermanentError):
    """The API refuses the request as sent; the message says why, to the caller."""

    kind = "rejected"
    status_code = 422
    message_is_public = True


class Unauthorized(RequestRejected):
    kind = "unauthorized"
    status_code = 401


class Forbidden(RequestRejected):
    kind = "forbidden"
    status_code = 403


class NotFound(RequestRejected):
    """No such object for the caller's tenant: another tenant's objects do not exist for it."""

    kind = "not_found"
    status_code = 404


class Conflict(RequestRejected):
    kind = "conflict"
    status_code = 409


class SourceExists(Conflict):
    """`POST /v1/sources` with a name the tenant already uses."""

    kind = "source_exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"source {name!r} already exists; PUT /v1/sources/{name} updates it")


class IdempotencyKeyReused(Conflict):
    """An Idempotency-Key sent again with a different body."""

    kind = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__("Idempotency-Key was already used with a different body")


class PayloadTooLarge(RequestRejected):
    kind = "payload_too_large"
    status_code = 413


class UnsupportedMediaType(RequestRejected):
    kind = "unsupported_media_type"
    status_code = 415


class InvalidRequest(RequestRejected):
    """A request that passes its schema but cannot work; FastAPI's own 422s name the fields."""

    kind = "invalid_request"
    status_code = 422


class SourceConfigError(InvalidRequest, ValueError):
    """A source's declared config cannot work.

    Also a `ValueError`, so that a Pydantic validator of a source's config model may raise it.
    """

    kind = "source_config"


class UnstorableValue(InvalidRequest):
    """A value the database refuses (a NUL character, text that is not valid Unicode)."""

    kind = "unstorable_value"
