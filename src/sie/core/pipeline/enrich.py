"""Enrichment that follows the language: named entities and keywords (spaCy), sentiment (VADER).

Each text's language is identified first (`pipeline.language`), then the texts go through
`nlp.pipe` one language at a time:
- English: the configured pipeline (NLP_MODEL) and VADER;
- a language whose trained spaCy pipeline is installed (French with the `fr` extra): entities and
  keywords from that pipeline, and no sentiment, since VADER's lexicon is English;
- any other language, or none identified: no entities, keywords or sentiment, and the reason.
Each pipeline is loaded once per process, on first use, and shared by every later call.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sie.core.config import settings
from sie.core.logging import get_logger, timed
from sie.core.pipeline.language import detect_language, load_identifier
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
# spaCy's package names for a language's trained pipelines, smallest first; English is NLP_MODEL.
PIPELINE_PACKAGES = ("{}_core_news_sm", "{}_core_web_sm", "{}_core_news_md", "{}_core_web_md")
# Languages a sentiment model reads: VADER's lexicon and rules are English.
SENTIMENT_LANGUAGES = frozenset({"en"})
ALL_PARTS = ("entities", "keywords", "sentiment")
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
# Parts of speech trimmed from the edges of a noun chunk: "the new office" -> "new office".
EDGE_POS = frozenset({"DET", "PRON", "PUNCT", "SPACE", "PART", "SYM"})
WHITESPACE = re.compile(r"\s+")

logger = get_logger(__name__)


@dataclass(frozen=True)
class NlpModels:
    nlp: Language
    name: str
    # VADER for English; None for a language no sentiment model reads.
    sentiment: SentimentIntensityAnalyzer | None


_models: dict[str, NlpModels] = {}
_models_lock = threading.Lock()
_model_loads: Counter[str] = Counter()


def pipeline_package(language: str) -> str | None:
    """The installed spaCy pipeline for `language`, or None when there is none."""
    return settings.nlp_model if language == "en" else _installed_package(language)


@functools.cache
def _installed_package(language: str) -> str | None:
    # Looked up once per language and process: what is installed does not change while it runs.
    candidates = (pattern.format(language) for pattern in PIPELINE_PACKAGES)
    return next((name for name in candidates if importlib.util.find_spec(name) is not None), None)


def load_models(language: str = "en") -> NlpModels | None:
    """The process's pipeline for `language` (with VADER for English), loaded on the first call only;
    None when no pipeline for it is installed. The language identifier loads with the first one."""
    loaded = _models.get(language)
    if loaded is not None:
        return loaded
    package = pipeline_package(language)
    if package is None:
        return None
    # Optional heavy dependencies (the `worker` extra): spaCy brings thinc and torch (seconds,
    # ~700 MB); only the processes that enrich load them, never the API or a worker's main process.
    import spacy
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    load_identifier()
    with _models_lock:
        if language not in _models:
            with timed() as elapsed:
                nlp = spacy.load(package, exclude=EXCLUDED_COMPONENTS)
                analyzer = SentimentIntensityAnalyzer() if language in SENTIMENT_LANGUAGES else None
                _models[language] = NlpModels(nlp=nlp, name=package, sentiment=analyzer)
            _model_loads[language] += 1
            logger.info(
                "nlp_models_loaded",
                language=language,
                model=package,
                components=nlp.pipe_names,
                duration_ms=elapsed["duration_ms"],
            )
        return _models[language]


def model_loads(language: str | None = None) -> int:
    """How many times this process has loaded a pipeline (for `language`, or all); more than one per
    language means a leak."""
    return _model_loads[language] if language is not None else sum(_model_loads.values())


def enrich(text: str) -> Enrichment:
    """Enrichment of one text; use `enrich_batch` for many."""
    return enrich_batch([text])[0]


def enrich_batch(
    texts: Sequence[str], *, max_keywords: int = settings.nlp_max_keywords, batch_size: int = 32
) -> list[Enrichment]:
    """Entities, keywords, sentiment and language of each text, in the order given."""
    started = time.perf_counter()
    clipped = [text[:MAX_NLP_CHARS] for text in texts]
    by_language: defaultdict[str | None, list[int]] = defaultdict(list)
    for index, text in enumerate(clipped):
        by_language[detect_language(text)].append(index)
    enrichments: dict[int, Enrichment] = {}
    for language, indexes in by_language.items():
        texts_of_language = [clipped[index] for index in indexes]
        enrichments.update(
            zip(indexes, _enrich_language(language, texts_of_language, max_keywords, batch_size), strict=True)
        )
    logger.info(
        "nlp_processed",
        documents=len(texts),
        languages={str(language): len(indexes) for language, indexes in by_language.items()},
        characters=sum(len(text) for text in clipped),
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return [enrichments[index] for index in range(len(texts))]


def _enrich_language(
    language: str | None, texts: list[str], max_keywords: int, batch_size: int
) -> list[Enrichment]:
    """Texts of one language through its pipeline; nothing, with the reason, where there is none."""
    models = load_models(language) if language is not None else None
    if models is None:
        reason = f"no spaCy pipeline for {language!r} installed" if language else "language not identified"
        return [Enrichment(language=language, skipped=ALL_PARTS, reason=reason) for _ in texts]
    analyzer = models.sentiment
    skipped, reason = ((), None) if analyzer else (("sentiment",), f"no sentiment model reads {language!r}")
    return [
        Enrichment(
            entities=_entities(doc),
            keywords=_keywords(doc, max_keywords),
            sentiment=_sentiment(doc, analyzer) if analyzer else None,
            language=language,
            model=models.name,
            skipped=skipped,
            reason=reason,
        )
        for doc in models.nlp.pipe(texts, batch_size=batch_size)
    ]


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
