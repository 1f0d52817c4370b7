"""Typed values passed between pipeline stages. Stages are plain functions; I/O stays at the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SentimentLabel = Literal["positive", "neutral", "negative"]


@dataclass(frozen=True)
class OcrWord:
    """A piece of text OCR recognised, with its confidence (0..1)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class PageText:
    """Text of one page of a paged document (PDF), with OCR confidence when OCR produced it."""

    number: int
    text: str
    ocr_confidence: float | None = None
    # Recognised below the confidence floor: stored with the document, kept out of `text` and the index.
    low_confidence_words: tuple[OcrWord, ...] = ()


@dataclass(frozen=True)
class PageMetadata:
    """What a web page says about itself (JSON-LD, OpenGraph, <meta>, <time>, <link rel=canonical>)."""

    author: str | None = None
    # Timezone-aware (UTC when the page gives no offset).
    published_at: datetime | None = None
    # As the page gives it; relative to the page's own URL when it does not start with a scheme.
    canonical_url: str | None = None
    site_name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ExtractedText:
    """Text found in a piece of content, and what kind of content it was (sniffed, not guessed by name)."""

    text: str
    content_type: str
    title: str | None = None
    pages: tuple[PageText, ...] = ()
    # Images, and PDF pages without a text layer: the OCR worker must read them.
    needs_ocr: bool = False
    pages_without_text: tuple[int, ...] = ()
    # Mean confidence over the OCR-read pages, weighted by characters; None when no OCR ran.
    ocr_confidence: float | None = None
    metadata: PageMetadata = field(default_factory=PageMetadata)


@dataclass(frozen=True)
class Entity:
    text: str
    label: str
    count: int


@dataclass(frozen=True)
class Sentiment:
    compound: float
    label: SentimentLabel


@dataclass(frozen=True)
class Enrichment:
    entities: list[Entity] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    # None where no sentiment model reads the language (VADER reads English only).
    sentiment: Sentiment | None = None
    language: str | None = None
    # The spaCy pipeline that read the text; what was left out, and why.
    model: str | None = None
    skipped: tuple[str, ...] = ()
    reason: str | None = None

    def details(self) -> dict[str, Any]:
        """What the document's `extraction.enrichment` records about how it was enriched."""
        details: dict[str, Any] = {"language": self.language, "model": self.model}
        if self.skipped:
            details["skipped"] = list(self.skipped)
            details["reason"] = self.reason
        return details
