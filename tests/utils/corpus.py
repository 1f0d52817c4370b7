"""Generated documents whose entities and sentiment are known in advance."""

from __future__ import annotations

from dataclasses import dataclass

PEOPLE = ("Angela Merkel", "Barack Obama", "Joe Biden", "Bill Gates", "Emmanuel Macron")
ORGANISATIONS = ("Google", "Microsoft", "Intel", "Toyota", "Siemens")
CITIES = ("Paris", "Tokyo", "Berlin", "London", "Madrid")
TONES = {
    "positive": "The visit was a wonderful success and everyone was happy.",
    "negative": "The visit was a terrible disaster and everyone was angry.",
    "neutral": "The meeting was held on Tuesday.",
}


@dataclass(frozen=True)
class KnownDocument:
    text: str
    person: str
    organisation: str
    city: str
    sentiment: str


def known_documents(count: int, *, tag: str = "") -> list[KnownDocument]:
    documents = []
    for i in range(count):
        person, organisation = PEOPLE[i % 5], ORGANISATIONS[(i // 5) % 5]
        city, sentiment = CITIES[(i * 3) % 5], list(TONES)[i % 3]
        text = (
            f"Report {i}{tag}: {person} travelled to {city} with a delegation from {organisation}. "
            f"{TONES[sentiment]}"
        )
        documents.append(KnownDocument(text, person, organisation, city, sentiment))
    return documents
