"""Search that stays interactive at millions of documents (issue 14): a stored weighted vector,
a capped `total` that says whether it is exact, bounded ranking, and a maximum result window."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from sie.core.db import get_engine, session_scope
from sie.core.errors import InvalidRequest
from sie.core.models import Document
from sie.core.search import SearchQuery, database, postgres
from sie.core.search.base import MAX_RESULT_WINDOW
from sie.core.search.postgres import PostgresFullText
from tests.search.conftest import NOW, Corpus
from tests.utils.api import make_key


def test_a_title_match_ranks_above_a_text_match(corpus: Corpus):
    in_title = corpus.add("Notes from the meeting on Tuesday.", title="Lighthouse", created_at=NOW)
    # Newer, so a tie would put it first.
    in_text = corpus.add("The lighthouse keeper wrote notes.", title="Notes", created_at=NOW + timedelta(1))

    assert corpus.search("lighthouse") == [in_title, in_text]


def test_the_search_vector_follows_an_edited_document(postgres_corpus: Corpus):
    """PostgreSQL keeps the vector itself; SQLite's FTS5 table follows `index_documents`."""
    corpus = postgres_corpus
    doc_id = corpus.add("Tulips bloom in April.", title="Spring")
    with corpus.session_scope() as session:
        session.execute(
            update(Document).where(Document.id == uuid.UUID(doc_id)).values(text="Roses bloom in June.")
        )

    assert corpus.search("tulips") == []
    assert corpus.search("roses") == [doc_id]


@pytest.mark.parametrize(("documents", "expected"), [(4, (4, "eq")), (5, (5, "eq")), (7, (5, "gte"))])
def test_total_is_exact_up_to_the_cap_then_a_lower_bound(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch, documents: int, expected: tuple[int, str]
):
    monkeypatch.setattr(database, "TOTAL_EXACT_UP_TO", 5)
    for n in range(documents):
        corpus.add(f"Harbour log entry {n}", created_at=NOW - timedelta(minutes=n))

    for q in ("harbour", ""):
        results = corpus.backend.search(SearchQuery(tenant=corpus.tenant, q=q, limit=2))
        assert (results.total, results.total_relation) == expected
        assert len(results.hits) == 2


def test_only_the_newest_matches_are_ranked_and_pages_stay_consistent(
    monkeypatch: pytest.MonkeyPatch, postgres_corpus: Corpus
):
    corpus = postgres_corpus
    monkeypatch.setattr(postgres, "RANK_WINDOW", 3)
    # The best match (the word in its title, twice in its text) is the oldest of five.
    best = corpus.add("Comet comet sighted.", title="Comet", created_at=NOW - timedelta(days=9))
    others = [corpus.add(f"A comet, report {n}.", created_at=NOW - timedelta(days=n)) for n in range(4)]

    ranked = corpus.search("comet", limit=10)
    paged = [hit for offset in range(0, 5, 2) for hit in corpus.search("comet", limit=2, offset=offset)]

    # The three newest are ranked (a tie here: newest first); older matches follow, newest first.
    assert ranked == [*others[:3], others[3], best]
    assert paged == ranked
    monkeypatch.setattr(postgres, "RANK_WINDOW", 5)
    assert corpus.search("comet", limit=10)[0] == best


def test_ranking_reads_the_stored_vector_not_the_text(postgres_corpus: Corpus):
    """EXPLAIN: no `to_tsvector` per row; the match itself uses the GIN index (test_database_search)."""
    matches = PostgresFullText().matches(SearchQuery(tenant=postgres_corpus.tenant, q="comet"), "comet")
    sql = matches.page.compile(dialect=get_engine().dialect, compile_kwargs={"literal_binds": True})
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(connection.execute(text(f"EXPLAIN VERBOSE {sql}")).scalars())

    assert "to_tsvector" not in plan
    assert "search_vector" in plan


def test_the_database_keeps_the_weighted_vector():
    with session_scope() as session:
        document = Document(tenant="vector-check", title="Harbour", text="Cranes and ships.")
        session.add(document)
        session.flush()
        vector = session.execute(
            select(Document.search_vector).where(Document.id == document.id)
        ).scalar_one()

    assert vector == "'crane':2B 'harbour':1A 'ship':4B"


def test_a_page_past_the_result_window_is_a_clear_422():
    key = make_key()
    from sie_api.main import app

    def page(offset: int, limit: int) -> httpx.Response:
        params = {"q": "x", "offset": offset, "limit": limit}
        return client.get("/v1/search", params=params, headers=key.headers)

    with TestClient(app) as client:
        past, last = page(MAX_RESULT_WINDOW - 99, 100), page(MAX_RESULT_WINDOW - 100, 100)

    assert past.status_code == 422
    assert "offset" in past.text
    assert last.status_code == 200
    # The same rule for every caller of a backend, not only the API.
    with pytest.raises(InvalidRequest, match=str(MAX_RESULT_WINDOW)):
        SearchQuery(tenant="t", offset=MAX_RESULT_WINDOW, limit=1)
