"""Small, valid documents built in memory for tests: PDFs with or without a text layer, and PNGs.

The PDFs are written byte by byte (Helvetica, WinAnsi encoding, a correct xref table), so every
reader, pdfium included, opens them without repairs, and a title can go into the Info dictionary.
"""

from __future__ import annotations

import struct
import zlib

PAGE_WIDTH = 612
PAGE_HEIGHT = 792
FONT_SIZE = 12
LINE_HEIGHT = 16


def make_text_pdf(pages: list[str], *, title: str | None = None) -> bytes:
    """A PDF with one page per entry, each line of the entry drawn as text. "" gives a page with no text.

    Text must be encodable in cp1252 (the WinAnsi encoding of the standard Helvetica font).
    """
    font_id = 3
    first_page_id = 4
    page_ids = [first_page_id + 2 * index for index in range(len(pages))]
    info_id = first_page_id + 2 * len(pages)
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % page_id for page_id in page_ids), len(pages)),
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        stream = _text_stream(text)
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT, font_id, page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    if title is not None:
        objects[info_id] = b"<< /Title %s >>" % _pdf_string(title)
    return _assemble(objects, info_id=info_id if title is not None else None)


def make_blank_pdf(n_pages: int) -> bytes:
    """A PDF of `n_pages` pages with no text layer at all (what a scanner without OCR produces)."""
    return make_text_pdf([""] * n_pages)


def make_png(width: int = 4, height: int = 4, *, gray_level: int = 255) -> bytes:
    """A valid greyscale PNG of one flat colour."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    rows = b"".join(b"\x00" + bytes([gray_level]) * width for _ in range(height))  # filter byte 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _text_stream(text: str) -> bytes:
    commands = []
    for line_number, line in enumerate(text.split("\n")):
        if line.strip():
            y = PAGE_HEIGHT - 72 - line_number * LINE_HEIGHT
            commands.append(b"BT /F1 %d Tf 72 %d Td %s Tj ET" % (FONT_SIZE, y, _pdf_string(line)))
    return b"\n".join(commands)


def _pdf_string(text: str) -> bytes:
    """A PDF literal string; non-ASCII bytes as octal escapes so the file stays 7-bit."""
    escaped = bytearray(b"(")
    for byte in text.encode("cp1252"):
        if byte in b"()\\":
            escaped += b"\\" + bytes([byte])
        elif 0x20 <= byte < 0x7F:
            escaped.append(byte)
        else:
            escaped += b"\\%03o" % byte
    return bytes(escaped + b")")


def _assemble(objects: dict[int, bytes], *, info_id: int | None) -> bytes:
    output = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for object_id in sorted(objects):
        offsets[object_id] = len(output)
        output += b"%d 0 obj\n%s\nendobj\n" % (object_id, objects[object_id])
    size = max(objects) + 1
    xref_offset = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for object_id in range(1, size):
        output += b"%010d 00000 n \n" % offsets[object_id]
    info = b" /Info %d 0 R" % info_id if info_id is not None else b""
    output += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (size, info, xref_offset)
    return bytes(output)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
