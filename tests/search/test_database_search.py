"""The built-in search backend, on the test run's PostgreSQL and on a SQLite file (local mode)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, literal_column, select, text

from sie.core.db import get_engine
from sie.core.errors import ServiceUnavailable
from sie.core.models import Document, DocumentStatus
from sie.core.search import DatabaseSearch, SearchQuery
from sie.core.search.database import leading_snippet
from tests.search.conftest import NOW, Corpus


def test_ranking_puts_the_best_match_first(corpus: Corpus):
    panels = corpus.add("Solar panels convert sunlight; panel efficiency rose again.", title="Solar panels")
    corpus.add("A solar eclipse darkened the sky over the city.", title="Eclipse")
    corpus.add("Wind turbines spin faster in winter storms.", title="Wind")

    assert corpus.search("solar panel")[0] == panels
    assert corpus.search("solar panel") == [panels]  # every word must match, as on the web
    assert len(corpus.search("solar")) == 2


def test_snippet_marks_the_matches(corpus: Corpus):
    filler = " ".join(f"filler{n}" for n in range(150))
    corpus.add(f"{filler} The harbour crane collapsed during the storm. {filler}")

    [hit] = corpus.backend.search(SearchQuery(tenant=corpus.tenant, q="crane")).hits

    assert "<mark>crane</mark>" in hit.snippet.lower()
    assert len(hit.snippet) < 600
    assert hit.score is not None
    assert hit.created_at == NOW


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"source": "rss"}, {"rss-berlin-positive"}),
        ({"source": "RSS"}, set()),
        ({"entity": "BERLIN"}, {"rss-berlin-positive", "api-berlin-negative"}),
        ({"entity": "paris"}, {"api-paris-neutral"}),
        ({"entity": "Ber"}, set()),
        ({"sentiment": "negative"}, {"api-berlin-negative"}),
        ({"date_from": NOW - timedelta(days=1, hours=1)}, {"rss-berlin-positive", "api-berlin-negative"}),
        ({"date_to": NOW - timedelta(days=1)}, {"api-berlin-negative", "api-paris-neutral"}),
        ({"entity": "berlin", "sentiment": "positive", "source": "rss"}, {"rss-berlin-positive"}),
    ],
)
@pytest.mark.parametrize("q", ["", "report"])
def test_filters(corpus: Corpus, q: str, filters: dict[str, object], expected: set[str]):
    names = {
        corpus.add(
            "Quarterly report", source="rss", entities=("Berlin",), sentiment="positive", created_at=NOW
        ): "rss-berlin-positive",
        corpus.add(
            "Annual report",
            entities=("Berlin", "Siemens"),
            sentiment="negative",
            created_at=NOW - timedelta(days=1),
        ): "api-berlin-negative",
        corpus.add(
            "Weekly report", entities=("Paris",), sentiment="neutral", created_at=NOW - timedelta(days=2)
        ): "api-paris-neutral",
    }

    results = corpus.backend.search(SearchQuery(tenant=corpus.tenant, q=q, **filters))  # type: ignore[arg-type]

    assert {names[hit.id] for hit in results.hits} == expected
    assert results.total == len(expected)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"published_from": datetime(2024, 3, 1, tzinfo=UTC)}, {"march", "april"}),
        ({"published_to": datetime(2024, 3, 31, 23, 59, tzinfo=UTC)}, {"february", "march"}),
        (
            {
                "published_from": datetime(2024, 3, 1, tzinfo=UTC),
                "published_to": datetime(2024, 3, 31, tzinfo=UTC),
            },
            {"march"},
        ),
        # 01:30 at +02:00 is 23:30 UTC the day before: the March document is in, the April one out.
        (
            {"published_to": datetime(2024, 4, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))},
            {"february", "march"},
        ),
        ({"published_from": datetime(2024, 3, 1), "date_from": NOW}, {"march", "april"}),
        ({"published_from": datetime(2030, 1, 1, tzinfo=UTC)}, set()),
    ],
)
@pytest.mark.parametrize("q", ["", "harbour"])
def test_publication_date_filters(corpus: Corpus, q: str, filters: dict[str, object], expected: set[str]):
    """Documents without a publication date never match a publication-date filter."""
    names = {
        corpus.add("Harbour notes, undated"): "undated",
        corpus.add(
            "Harbour notes of February", published_at=datetime(2024, 2, 10, 9, tzinfo=UTC)
        ): "february",
        corpus.add("Harbour notes of March", published_at=datetime(2024, 3, 15, 9, tzinfo=UTC)): "march",
        corpus.add("Harbour notes of April", published_at=datetime(2024, 4, 1, 23, 45, tzinfo=UTC)): "april",
    }

    results = corpus.backend.search(SearchQuery(tenant=corpus.tenant, q=q, **filters))  # type: ignore[arg-type]

    assert {names[hit.id] for hit in results.hits} == expected
    assert results.total == len(expected)
    published = {names[hit.id]: hit.published_at for hit in results.hits}
    assert published.get("march", datetime(2024, 3, 15, 9, tzinfo=UTC)) == datetime(
        2024, 3, 15, 9, tzinfo=UTC
    )


def test_tenants_never_see_each_others_documents(corpus: Corpus):
    ours = corpus.add("Merger talks resumed on Monday.")
    other_tenant = f"{corpus.tenant}-other"
    corpus.add("Merger talks resumed on Monday.", tenant=other_tenant)
    corpus.add("Merger talks resumed on Monday.", tenant=corpus.tenant.upper())

    assert corpus.search("merger") == [ours]
    assert corpus.search() == [ours]


def test_only_indexed_finished_documents_are_found(corpus: Corpus):
    indexed = corpus.add("Glacier retreat measured in the Alps.")
    corpus.add("Glacier retreat measured in the Andes.", index=False)
    corpus.add("Glacier retreat measured in Alaska.", status=DocumentStatus.pending)
    corpus.add("Glacier retreat measured in Norway.", status=DocumentStatus.failed)

    assert corpus.search("glacier") == [indexed]
    assert corpus.search() == [indexed]


def test_deleted_documents_leave_the_results(corpus: Corpus):
    keep = corpus.add("Otters hold hands while sleeping.")
    drop = corpus.add("Otters use stones as tools.")

    corpus.backend.delete_documents([drop])

    assert corpus.search("otters") == [keep]


def test_empty_query_lists_newest_first_with_the_start_of_the_text(corpus: Corpus):
    for days in (3, 0, 2, 1):
        corpus.add(f"Entry {days} " + "lorem ipsum " * 50, created_at=NOW - timedelta(days=days))

    results = corpus.backend.search(SearchQuery(tenant=corpus.tenant))

    assert [hit.created_at for hit in results.hits] == [NOW - timedelta(days=d) for d in range(4)]
    assert results.hits[0].snippet.startswith("Entry 0 lorem ipsum")
    assert results.hits[0].snippet.endswith("…")
    assert results.hits[0].score is None
    assert results.total == 4


def test_pagination_and_total(corpus: Corpus):
    ids = {corpus.add(f"Minutes of meeting {n}", created_at=NOW - timedelta(minutes=n)) for n in range(25)}

    pages = [
        corpus.backend.search(SearchQuery(tenant=corpus.tenant, q="meeting", limit=10, offset=offset))
        for offset in (0, 10, 20, 30)
    ]

    assert [len(page.hits) for page in pages] == [10, 10, 5, 0]
    assert {(page.total, page.total_relation) for page in pages} == {(25, "eq")}
    assert {hit.id for page in pages for hit in page.hits} == ids


@pytest.mark.parametrize(
    "q",
    [
        '"AND (',
        "AND",
        "NOT",
        "OR",
        "(((",
        ")",
        '""',
        '"',
        "*",
        "-",
        "--",
        "-report",
        "report -",
        "report OR",
        "OR report",
        "NEAR(report budget)",
        "title:report",
        "^report",
        "report*",
        "'; DROP TABLE documents; --",
        "a\x00b",
        "\\",
        "😀 report",
        "the",
        "x" * 5000,
        "report " * 200,
    ],
)
def test_hostile_queries_do_not_raise(corpus: Corpus, q: str):
    corpus.add("The budget report was published.")

    corpus.backend.search(SearchQuery(tenant=corpus.tenant, q=q))


def test_query_operators_work_like_web_search(corpus: Corpus):
    budget = corpus.add("The budget report was published.")
    weather = corpus.add("The weather report predicts rain.")
    phrase = corpus.add("Report on the budget of the weather service.")

    assert set(corpus.search("report")) == {budget, weather, phrase}
    assert set(corpus.search("report -weather")) == {budget}
    assert set(corpus.search("rain or published")) == {budget, weather}
    assert set(corpus.search('"budget report"')) == {budget}


def test_check_passes_on_a_working_database(corpus: Corpus):
    corpus.backend.check()


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://postgres@127.0.0.1:1/none", "sqlite:////nonexistent-directory/sie.db"],
)
def test_unreachable_database_is_service_unavailable(url: str):
    engine = create_engine(url, connect_args={"connect_timeout": 1} if url.startswith("postgresql") else {})
    backend = DatabaseSearch(engine=engine)

    with pytest.raises(ServiceUnavailable) as excinfo:
        backend.check()
    assert excinfo.value.service == "search"
    with pytest.raises(ServiceUnavailable):
        backend.search(SearchQuery(tenant="acme", q="anything"))


def test_postgres_query_uses_the_gin_index():
    # Built the way the backend builds its match condition (a prefix: test_query_syntax).
    tsquery = func.to_tsquery(literal_column("'english'"), "('budget')")
    statement = select(Document.id).where(Document.search_vector.op("@@")(tsquery))
    sql = statement.compile(dialect=get_engine().dialect, compile_kwargs={"literal_binds": True})
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = connection.execute(text(f"EXPLAIN {sql}")).scalars().all()

    # On partitioned `documents` (PostgreSQL) each month's index is a partition of ix_documents_search.
    assert "ix_documents_search" in "\n".join(plan) or "_search_vector_idx" in "\n".join(plan)


def test_leading_snippet():
    assert leading_snippet("Short  text\nhere") == "Short text here"
    assert leading_snippet(" ".join(["word"] * 50)) == " ".join(["word"] * 35) + " …"
