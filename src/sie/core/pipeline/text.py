"""Bytes to clean text: the charset found in the content (or its declared type), then normalised."""

from __future__ import annotations

import re

from sie.core.errors import UnsupportedContent
from sie.core.pipeline.sniff import CONTROL_BYTES, MAX_CONTROL_BYTE_RATIO, SNIFF_BYTES, TEXT_BOMS

META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
DECLARED_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)

HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
BLANK_LINES = re.compile(r"\n{3,}")
# Every C0 control but tab and newline (NUL is removed before this applies), plus line separators.
CONTROL_CHARS = re.compile(r"[\x01-\x08\x0b-\x1f\x7f\u2028\u2029]")


def decode_text(content: bytes, *, declared_type: str | None = None) -> str:
    """Decode text: BOM, UTF-8, the declared or <meta> charset, then cp1252; never fails on bad bytes.

    Content that is not text at all (many control bytes and no BOM) raises UnsupportedContent.
    """
    for bom, encoding in TEXT_BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, errors="replace")
    sample = content[: SNIFF_BYTES * 8]
    control_bytes = sum(1 for byte in sample if byte in CONTROL_BYTES)
    if control_bytes > len(sample) * MAX_CONTROL_BYTE_RATIO:
        raise UnsupportedContent(
            f"content looks binary ({control_bytes} control bytes in the first {len(sample)}) "
            "and is not a supported document or image type"
        )
    for encoding in ("utf-8", _declared_charset(content, declared_type)):
        if encoding is None:
            continue
        try:
            return content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    # UTF-8 with a few broken bytes stays UTF-8: read as cp1252 every other accent would turn to mojibake.
    as_utf8 = content.decode("utf-8", errors="replace")
    replaced = as_utf8.count("\ufffd")
    decoded_non_ascii = len(as_utf8) - len(as_utf8.encode("ascii", errors="ignore")) - replaced
    if decoded_non_ascii > replaced:
        return as_utf8
    # cp1252 leaves five byte values undefined; those become U+FFFD.
    return content.decode("cp1252", errors="replace")


def normalize_text(text: str) -> str:
    """Drop NULs and control characters, collapse spaces within lines and runs of blank lines."""
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_CHARS.sub(" ", text)
    lines = (HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def single_line(text: str) -> str | None:
    """`text` on one line with single spaces (a title), or None when nothing is left."""
    return " ".join(text.replace("\x00", "").split()) or None


def _declared_charset(content: bytes, declared_type: str | None) -> str | None:
    if declared_type and (match := DECLARED_CHARSET.search(declared_type)):
        return match.group(1)
    if match := META_CHARSET.search(content[: SNIFF_BYTES * 2]):
        return match.group(1).decode("ascii")
    return None
