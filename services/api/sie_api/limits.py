"""The body-size limit: 413 for bodies over the limit, whether announced by Content-Length or streamed."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sie.core.errors import PayloadTooLarge
from sie_api.errors import error_response

# Room for the multipart envelope and the form fields around an upload's file.
UPLOAD_FORM_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimit:
    """Refuses a body over the limit before anything reads it, or as soon as the stream passes it.

    Raised while a body is read, `PayloadTooLarge` reaches FastAPI's body parsing wrapped in an
    ExceptionGroup, which FastAPI answers with a 400; `sie_api.errors` finds it there and answers 413.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def _limit(self, scope: Scope) -> int:
        if scope["path"].endswith("/upload"):
            return self.max_upload_bytes + UPLOAD_FORM_OVERHEAD_BYTES
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, _too_large(limit))
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except PayloadTooLarge as too_large:
            await _refuse(send, too_large)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body exceeds {limit} bytes")


async def _refuse(send: Send, error: PayloadTooLarge) -> None:
    await error_response(error)({"type": "http"}, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}
