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
