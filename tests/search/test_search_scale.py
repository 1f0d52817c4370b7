"""Search that stays interactive at millions of documents (issue 14): a stored weighted vector,
a capped `total` that says whether it is exact, bounded ranking, and a maximum result window."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, insert, select, text, update

from sie.core.db import get_engine, session_scope
from sie.core.errors import InvalidRequest
from sie.core.models import Document, DocumentStatus
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


FILTERED_CORPUS = 3_000
# Stands for the 1,000 of RANK_WINDOW and TOTAL_EXACT_UP_TO, so that a few thousand documents hold
# more matches than a search reads, as a common word does at a million.
WINDOW = 50
SOURCES = ("api", "rss-world", "rss-business", "crawler", "upload")
LABELS = ("negative", "neutral", "positive")


def test_a_filtered_search_fetches_only_rows_that_pass_the_filters(
    monkeypatch: pytest.MonkeyPatch, postgres_corpus: Corpus
):
    """EXPLAIN ANALYZE of the statements a filtered search runs: the newest-first scan tests `source`
    and `sentiment` in the index and fetches only the documents that pass them. Walking every
    document of the tenant instead fetched 15 times the rows here (one document in 15 passes), and
    37,500 rows per statement for 1,001 matches at 1M documents."""
    corpus = postgres_corpus
    monkeypatch.setattr(database, "TOTAL_EXACT_UP_TO", WINDOW)
    monkeypatch.setattr(postgres, "RANK_WINDOW", WINDOW)
    with corpus.session_scope() as session:
        rows = [_document_row(corpus.tenant, n) for n in range(FILTERED_CORPUS)]
        session.execute(insert(Document.__table__), rows)
        session.execute(text("ANALYZE documents"))
    query = SearchQuery(tenant=corpus.tenant, q="harbour", source="rss-world", sentiment="negative")

    with _statements() as statements:
        results = corpus.backend.search(query)
    fetched = [_documents_fetched(statement, parameters) for statement, parameters in statements]

    assert (results.total, results.total_relation, len(results.hits)) == (WINDOW, "gte", 20)
    assert len(fetched) == 2  # the capped count and the page
    # The WINDOW (+ 1) newest matches, and the page's 20 fetched again for their columns.
    assert all(rows <= 2 * WINDOW for rows in fetched), fetched


def _document_row(tenant: str, n: int) -> dict[str, Any]:
    """The n-th newest document: sources and labels in turn, so one in 15 has a given pair."""
    return {
        "id": uuid.uuid4(), "tenant": tenant, "title": f"Bulletin {n}", "text": "Harbour traffic report.",
        "source": SOURCES[n % len(SOURCES)], "sentiment_label": LABELS[n % len(LABELS)],
        "status": DocumentStatus.done, "indexed_at": NOW, "created_at": NOW - timedelta(minutes=n),
        "entities": [], "keywords": [], "extraction": {}, "metadata": {}, "updated_at": NOW,
    }  # fmt: skip


@contextmanager
def _statements() -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) run meanwhile, on any engine."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _documents_fetched(statement: str, parameters: Any) -> int:
    """Rows of `documents` the statement fetched from the table: returned plus removed by a filter.

    At a few thousand documents the planner would rather read them all (a sequential or bitmap
    scan); at a million it walks an index newest first for the 1,001 newest matches. Turning
    those two off here gives the plan a large corpus gets.
    """
    with get_engine().begin() as connection:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        [[plan]] = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).all()
    return _fetched(plan[0]["Plan"])


def _fetched(node: dict[str, Any]) -> int:
    own = 0
    if node.get("Relation Name", "").startswith("documents") and "Scan" in node["Node Type"]:
        per_loop = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        own = round(per_loop * node["Actual Loops"])
    return own + sum(_fetched(child) for child in node.get("Plans", []))
