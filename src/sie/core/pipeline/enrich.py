"""Enrichment: named entities and keywords (spaCy), sentiment (VADER) and language of a text.

The models are loaded once per process, on first use, and shared by every later call; batches go
through `nlp.pipe` so spaCy can work on many documents at a time.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sie.core.config import settings
from sie.core.logging import get_logger, timed
from sie.core.pipeline.language import detect_language
from sie.core.pipeline.types import Enrichment, Entity, Sentiment, SentimentLabel

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# One huge document must not hold a worker for minutes: spaCy sees at most this much of each text.
MAX_NLP_CHARS = 100_000
# The lemmatizer is not needed (keywords are surface forms) and costs time; the parser gives
# sentences and noun chunks, the NER entities.
EXCLUDED_COMPONENTS = ["lemmatizer"]
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
# Parts of speech trimmed from the edges of a noun chunk: "the new office" -> "new office".
EDGE_POS = frozenset({"DET", "PRON", "PUNCT", "SPACE", "PART", "SYM"})
WHITESPACE = re.compile(r"\s+")

logger = get_logger(__name__)


@dataclass(frozen=True)
class NlpModels:
    nlp: Language
    sentiment: SentimentIntensityAnalyzer


_models: NlpModels | None = None
_models_lock = threading.Lock()
_model_loads = 0


def load_models() -> NlpModels:
    """The process's spaCy pipeline and VADER analyzer, loaded on the first call only."""
    global _models, _model_loads
    if _models is not None:
        return _models
    # Optional heavy dependencies (the `worker` extra): spaCy brings thinc and torch (seconds,
    # ~700 MB); only the processes that enrich load them, never the API or a worker's main process.
    import spacy
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    with _models_lock:
        if _models is None:
            with timed() as elapsed:
                nlp = spacy.load(settings.nlp_model, exclude=EXCLUDED_COMPONENTS)
                _models = NlpModels(nlp=nlp, sentiment=SentimentIntensityAnalyzer())
            _model_loads += 1
            logger.info(
                "nlp_models_loaded",
                model=settings.nlp_model,
                components=nlp.pipe_names,
                duration_ms=elapsed["duration_ms"],
            )
        return _models


def model_loads() -> int:
    """How many times this process has loaded the models (1 after any use; more means a leak)."""
    return _model_loads


def enrich(text: str) -> Enrichment:
    """Enrichment of one text; use `enrich_batch` for many."""
    return enrich_batch([text])[0]


def enrich_batch(
    texts: Sequence[str], *, max_keywords: int = settings.nlp_max_keywords, batch_size: int = 32
) -> list[Enrichment]:
    """Entities, keywords, sentiment and language of each text, in the order given."""
    models = load_models()
    started = time.perf_counter()
    docs = models.nlp.pipe((text[:MAX_NLP_CHARS] for text in texts), batch_size=batch_size)
    enrichments = [
        Enrichment(
            entities=_entities(doc),
            keywords=_keywords(doc, max_keywords),
            sentiment=_sentiment(doc, models.sentiment),
            language=detect_language(doc.text),
        )
        for doc in docs
    ]
    logger.info(
        "nlp_processed",
        documents=len(enrichments),
        characters=sum(min(len(text), MAX_NLP_CHARS) for text in texts),
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return enrichments


def sentiment_label(compound: float) -> SentimentLabel:
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def _entities(doc: Doc) -> list[Entity]:
    """Entities grouped by (name, label), most frequent first, ties in order of first mention."""
    counts: Counter[tuple[str, str]] = Counter()
    surface_forms: dict[tuple[str, str], str] = {}
    for entity in doc.ents:
        name = WHITESPACE.sub(" ", entity.text).strip()
        if not any(character.isalpha() for character in name):
            continue  # numbers, amounts and stray whitespace are not names
        key = (name.casefold(), entity.label_)
        counts[key] += 1
        surface_forms.setdefault(key, name)
    # Counter.most_common keeps insertion (first mention) order among equal counts.
    return [Entity(text=surface_forms[key], label=key[1], count=count) for key, count in counts.most_common()]


def _keywords(doc: Doc, max_keywords: int) -> list[str]:
    """Noun chunks, trimmed of determiners, pronouns and stopwords, by frequency then first mention."""
    counts: Counter[str] = Counter()
    for chunk in doc.noun_chunks:
        keyword = _trimmed_chunk(chunk)
        if keyword:
            counts[keyword] += 1
    return [keyword for keyword, _ in counts.most_common(max_keywords)]


def _trimmed_chunk(chunk: Span) -> str:
    tokens: list[Token] = list(chunk)
    while tokens and _is_edge_noise(tokens[0]):
        tokens.pop(0)
    while tokens and _is_edge_noise(tokens[-1]):
        tokens.pop()
    if not any(token.is_alpha for token in tokens):
        return ""
    return WHITESPACE.sub(" ", "".join(token.text_with_ws for token in tokens)).strip().lower()


def _is_edge_noise(token: Token) -> bool:
    return token.is_stop or token.pos_ in EDGE_POS or not token.text.strip()


def _sentiment(doc: Doc, analyzer: SentimentIntensityAnalyzer) -> Sentiment:
    """VADER compound; over several sentences, their average weighted by sentence length.

    VADER is tuned on sentences: on a long text its compound saturates towards +-1.
    """
    sentences = [text for sentence in doc.sents if (text := sentence.text.strip())]
    if not sentences:
        return Sentiment(compound=0.0, label="neutral")
    weighted_sum = sum(
        analyzer.polarity_scores(sentence)["compound"] * len(sentence) for sentence in sentences
    )
    compound = round(weighted_sum / sum(len(sentence) for sentence in sentences), 4)
    return Sentiment(compound=compound, label=sentiment_label(compound))
