"""What the upload route accepts is decided by the bytes, not the file name."""

from __future__ import annotations

import pytest

from sie.core.pipeline.sniff import sniff_content_type
from tests.utils.files import make_png, make_text_pdf


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"BMW announced a new factory in Munich.", "text/plain"),
        (b"<!doctype html><html><body><p>Hello</p></body></html>", "text/html"),
        (b"\xef\xbb\xbfPlain text with a BOM", "text/plain"),
        (b"Caf\xe9 in cp1252", "text/plain"),
        (b"PK\x03\x04" + b"\x00" * 40, None),
        (b"\x7fELF\x02\x01\x01" + bytes(range(32)) * 4, None),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, None),
    ],
)
def test_sniffed_types(data: bytes, expected: str | None) -> None:
    assert sniff_content_type(data) == expected


def test_pdf_and_png_by_signature() -> None:
    assert sniff_content_type(make_text_pdf(["Hello"])) == "application/pdf"
    assert sniff_content_type(make_png()) == "image/png"
