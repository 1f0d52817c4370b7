"""Small files that claim to be enormous: pixel bombs and page-count bombs."""

from __future__ import annotations

import io
import struct
import zlib

import pypdfium2 as pdfium
from PIL import Image


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels: a pixel bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(bytes(64 * 1024))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 8x8 JPEG with its frame header rewritten to claim `width` x `height` pixels."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def many_page_pdf(pages: int) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(612, 792).close()
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    return buffer.getvalue()


def xml_bomb(kind: str) -> bytes:
    """An RSS feed that declares entities: `billion-laughs`, `quadratic-blowup` or `external-entity`."""
    feed = (
        '<rss version="2.0"><channel><title>{title}</title>'
        "<item><link>http://127.0.0.1/a</link></item></channel></rss>"
    )
    if kind == "billion-laughs":
        # Ten levels of ten references each: 10^9 copies of "lol" from under 1 kB.
        levels = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
        ]
        declarations, title = "".join(levels), "&lol9;"
    elif kind == "quadratic-blowup":
        # One 100 kB entity used 50,000 times: 5 GB of text from a 250 kB document, with no nesting.
        declarations, title = f'<!ENTITY a "{"a" * 100_000}">', "&a;" * 50_000
    else:
        declarations, title = '<!ENTITY secret SYSTEM "file:///etc/passwd">', "&secret;"
    return f'<?xml version="1.0"?>\n<!DOCTYPE rss [{declarations}]>\n{feed.format(title=title)}'.encode()


def hostile_page(kind: str) -> bytes:
    """An HTML page of up to FETCH_MAX_BYTES (10 MiB) built to make parsers and extractors slow."""
    size = 10 << 20
    body = {
        # Over a million elements: far beyond what trafilatura is given.
        "tiny-elements": lambda: "<p>Some words here.</p>" * (size // 23),
        "links": lambda: '<a href="/x">link</a> ' * (size // 21),
        "unclosed-cells": lambda: "<table>" + "<td>x" * (size // 5),
        "teaser-cards": lambda: "<article><h2>Teaser</h2><p>Short teaser text.</p></article>" * (size // 60),
        "one-text-node": lambda: "<p>" + "word " * (size // 5) + "</p>",
        # Parsers compare each attribute with the others; lexbor takes 7 s for 50,000.
        "many-attributes": lambda: (
            "<div " + " ".join(f"a{n}=v" for n in range(size // 9)) + "><p>hi</p></div>"
        ),
        # lexbor takes time quadratic in the <option>s of an open <select>.
        "open-select": lambda: "<select>" + "<option>x" * (size // 9),
        # Unclosed formatting elements reopened in every paragraph.
        "open-formatting": lambda: "".join(f"<b class=c{n}>" for n in range(9000)) + "<p>t</p>" * (size // 8),
        # Under trafilatura's element bound, with 10 MiB of text in one block.
        "long-links": lambda: ('<a href="/x">' + "link text " * 50 + "</a> ") * 19_000,
        # At the bound of trafilatura's compared mode, where jusText's time grows with the square.
        "identical-paragraphs": lambda: "<div><p>text</p></div>" * 2_490,
    }[kind]()
    return f"<html><head><title>Hostile</title></head><body>{body}</body></html>".encode()
