"""Content codings (gzip, deflate) undone in bounded slices, so a decompression bomb meets the size cap.

httpx inflates each network read in one go, and stacked codings (`gzip, gzip`) multiply: a 2 KB
body became 1 GiB in memory before any cap could be checked. Here every layer yields slices of at
most DECODE_SLICE_BYTES, so the caller's cap stops the body within one slice of it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import cast

import httpx

from sie.core.errors import UnsupportedContent
from sie.core.fetch.urls import shown

# The codings undone here, with their zlib window bits.
INFLATE_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
ACCEPT_ENCODING = "gzip, deflate"
# Real servers apply one coding; stacked ones only serve to multiply a decompression bomb.
MAX_CONTENT_CODINGS = 2
DECODE_SLICE_BYTES = 64 * 1024


def decoded_chunks(response: httpx.Response, url: httpx.URL) -> Iterator[bytes]:
    """The body with its Content-Encoding undone, no slice larger than DECODE_SLICE_BYTES."""
    header = response.headers.get("content-encoding", "")
    codings = [
        part.strip().lower() for part in header.split(",") if part.strip().lower() not in ("", "identity")
    ]
    if len(codings) > MAX_CONTENT_CODINGS:
        raise UnsupportedContent(f"{shown(url)} stacks {len(codings)} content codings ({header})")
    # The bytes as sent; `iter_raw` would refuse a response httpx has already read into memory.
    chunks: Iterator[bytes] = iter(cast(httpx.SyncByteStream, response.stream))
    # Codings are listed in the order they were applied, so they are undone from the last.
    for coding in reversed(codings):
        if coding not in INFLATE_WBITS:
            raise UnsupportedContent(f"{shown(url)} uses the unsupported content coding {coding!r}")
        chunks = _inflated(chunks, coding)
    return chunks


def _inflated(chunks: Iterator[bytes], coding: str) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(INFLATE_WBITS[coding])
    started = False
    for chunk in chunks:
        pending = chunk
        while pending:
            try:
                piece = decompressor.decompress(pending, DECODE_SLICE_BYTES)
            except zlib.error:
                if coding != "deflate" or started:
                    raise
                # Some servers send raw deflate without the zlib wrapper; httpx accepts that too.
                decompressor, started = zlib.decompressobj(-zlib.MAX_WBITS), True
                continue
            started = True
            pending = decompressor.unconsumed_tail
            yield piece
    yield decompressor.flush()
