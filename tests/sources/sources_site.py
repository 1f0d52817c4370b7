"""A real HTTP site on 127.0.0.1 that the source tests control: pages, validators, robots.txt, failures.

It answers conditional GETs (ETag / Last-Modified → 304), can delay or fail a page, and records every
request (path, headers, time) and the most requests it ever had in flight at once.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class Site:
    base: str
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes | str, *, validators: bool = True, **options: object) -> Page:
        """Serve `body` at `path`; with `validators`, an ETag and a Last-Modified derived from the body."""
        data = body.encode() if isinstance(body, str) else body
        if validators:
            options.setdefault("etag", f'"{hashlib.sha256(data).hexdigest()[:16]}"')
            options.setdefault("last_modified", formatdate(time.time(), usegmt=True))
        page = Page(data, **options)  # type: ignore[arg-type]
        self.pages[path] = page
        return page

    def serve_article(self, path: str, text: str | None = None) -> str:
        title = text or f"Article at {path}"
        self.serve(path, f"<html><head><title>{title}</title></head><body><p>{title}.</p></body></html>")
        return self.url(path)

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def paths_requested(self) -> list[str]:
        with self.lock:
            return [request.path for request in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        site = self.server.site
        with site.lock:
            site.requests.append(Request(self.path, dict(self.headers.items()), time.monotonic()))
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
        try:
            self._answer(site.pages.get(self.path))
        finally:
            with site.lock:
                site.in_flight -= 1

    def _answer(self, page: Page | None) -> None:
        if page is None:
            self._send(404, "text/plain", b"not found")
            return
        if page.delay:
            time.sleep(page.delay)
        if page.status != 200:
            self._send(page.status, "text/plain", page.body)
            return
        # RFC 9110 §13.2.2: If-Modified-Since counts only when If-None-Match is absent; a feed
        # changed within the same second keeps its Last-Modified but not its ETag.
        if (if_none_match := self.headers.get("If-None-Match")) is not None:
            unchanged = page.etag is not None and if_none_match == page.etag
        else:
            unchanged = (
                page.last_modified is not None and self.headers.get("If-Modified-Since") == page.last_modified
            )
        extra = {"ETag": page.etag, "Last-Modified": page.last_modified}
        if unchanged:
            self._send(304, None, b"", extra)
        else:
            self._send(200, page.content_type, page.body, extra)

    def _send(self, status: int, content_type: str | None, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            if value:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


def start_site() -> tuple[Site, _Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = Site(base=f"http://127.0.0.1:{server.server_address[1]}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.site, server


def rss(entries: Iterable[tuple[str, str]], *, title: str = "Test feed") -> str:
    """An RSS 2.0 feed; each entry is (link, title) and its guid is the link."""
    items = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        "<pubDate>Sat, 28 Nov 2026 10:00:00 GMT</pubDate></item>"
        for link, t in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://example.org/</link><description>d</description>"
        f"{items}</channel></rss>"
    )


def atom(entries: Iterable[tuple[str, str, str]], *, title: str = "Test atom feed") -> str:
    """An Atom feed; each entry is (id, link, title); links may be relative."""
    body = "".join(
        f'<entry><id>{escape(entry_id)}</id><title>{escape(t)}</title><link href="{escape(link)}"/>'
        "<updated>2026-11-28T10:00:00Z</updated></entry>"
        for entry_id, link, t in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test</id><updated>2026-11-28T10:00:00Z</updated>{body}</feed>"
    )


def urlset(urls: Iterable[str]) -> str:
    entries = "".join(f"<url><loc>{escape(u)}</loc><lastmod>2026-11-28</lastmod></url>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    )


def sitemap_index(urls: Iterable[str]) -> str:
    entries = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
    )


def gzipped(text: str) -> bytes:
    return gzip.compress(text.encode())
