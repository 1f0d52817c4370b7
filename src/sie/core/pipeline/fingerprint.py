"""A document's content identity, shared by accepting (known content is answered with the existing
document) and storing (content that arrived twice becomes a duplicate)."""

from __future__ import annotations

import hashlib
import re

_WHITESPACE = re.compile(r"\s+")


def content_hash(text: str) -> str:
    """Identity of a document's content: whitespace differences do not make a new document."""
    return hashlib.sha256(_WHITESPACE.sub(" ", text).strip().encode()).hexdigest()
