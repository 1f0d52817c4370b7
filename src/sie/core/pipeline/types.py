"""Typed values passed between pipeline stages. Stages are plain functions; I/O stays at the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
    sentiment: Sentiment = field(default_factory=lambda: Sentiment(0.0, "neutral"))
    language: str | None = None
