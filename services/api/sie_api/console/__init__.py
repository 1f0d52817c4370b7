"""The SIE console (`/ui`) and the API's own docs (`/docs`, `/redoc`), served from this package's files.

The console is static HTML, CSS and JavaScript modules (`static/`) that call the `/v1` API with the
key a person pasted: the browser keeps it in sessionStorage and sends it as `X-API-Key`, so the
server never sees it in a cookie or a URL. The pages hold no data, so they are served to anyone; the
data behind them answers only to a key. Swagger UI and ReDoc come from npm at pinned versions
(`scripts/vendor-docs-assets.sh`) and ship as built files with their licences: the docs need no
network. Every page carries a Content-Security-Policy that allows scripts from this origin only.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from sie.core.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
_CSP_BASE = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The console sets no inline style at all.
CONSOLE_HEADERS = {**_COMMON_HEADERS, "Content-Security-Policy": f"{_CSP_BASE}; style-src 'self'"}
# Swagger UI and ReDoc set styles at run time (ReDoc through a blob: worker too); scripts stay 'self'.
DOCS_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": f"{_CSP_BASE}; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


class ConsoleFiles:
    """The files under `STATIC_DIR`, each read once and then answered from memory, on the event loop.

    Only the files found at start are served (no path from a request reaches the file system), and
    a page load costs no thread hand-over per file: the search page's first render stays well under
    300 ms even on a busy machine (tests/browser).
    """

    def __init__(self, directory: Path) -> None:
        self.paths = {
            path.relative_to(directory).as_posix(): path for path in directory.rglob("*") if path.is_file()
        }
        self.loaded: dict[str, StaticFile] = {}

    def get(self, name: str) -> StaticFile | None:
        if name not in self.loaded and name in self.paths:
            body = self.paths[name].read_bytes()
            media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self.loaded[name] = StaticFile(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:20]}"')
        return self.loaded.get(name)

    def response(self, name: str, request: Request, headers: dict[str, str]) -> Response:
        found = self.get(name)
        if found is None:
            raise NotFound("no such file")
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers={**headers, "ETag": found.etag})
        return Response(found.body, media_type=found.media_type, headers={**headers, "ETag": found.etag})


def mount_console(app: FastAPI) -> None:
    """`/ui` (the console), its static files under `/ui/static`, and the offline `/docs` and `/redoc`."""
    files = ConsoleFiles(STATIC_DIR)

    def page(name: str, headers: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return files.response(name, request, headers)

        return serve

    # Every path is relative in the pages, so the console also works behind a path prefix.
    app.add_api_route("/ui", lambda: RedirectResponse("ui/"), include_in_schema=False)
    app.add_api_route("/ui/", page("index.html", CONSOLE_HEADERS), include_in_schema=False)
    app.add_api_route("/docs", page("docs.html", DOCS_HEADERS), include_in_schema=False)
    app.add_api_route("/redoc", page("redoc.html", DOCS_HEADERS), include_in_schema=False)

    async def static_file(path: str, request: Request) -> Response:
        return files.response(path, request, CONSOLE_HEADERS)

    app.add_api_route("/ui/static/{path:path}", static_file, include_in_schema=False)
