"""One query language on both database backends (issue 14): words, "phrases", `or`, `-exclusion`,
and the last word as a prefix (search as you type). The parser alone, then both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from sie.core.db import get_engine
from sie.core.models import Base
from sie.core.search import DatabaseSearch, SearchQuery, postgres
from sie.core.search.postgres import PostgresFullText
from sie.core.search.query_text import QueryText, Term, fts5_expression, parse, tsquery_text
from tests.search.conftest import NOW, Corpus

# The parser (no services)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("solar panels", QueryText(((Term(("solar",)), Term(("panels",), prefix=True)),))),
        ('"solar panels"', QueryText(((Term(("solar", "panels")),),))),
        ('solar "panels', QueryText(((Term(("solar",)), Term(("panels",))),))),
        ("e-mai", QueryText(((Term(("e", "mai"), prefix=True),),))),
        ("rain or snow", QueryText(((Term(("rain",)),), (Term(("snow",), prefix=True),)))),
        ("OR rain or or snow or", QueryText(((Term(("rain",)),), (Term(("snow",)),)))),
        ("report -weather", QueryText(((Term(("report",)),),), (Term(("weather",)),))),
        ('report -"weather service"', QueryText(((Term(("report",)),),), (Term(("weather", "service")),))),
        ("report x", QueryText(((Term(("report",)), Term(("x",))),))),
        ("foo_bar", QueryText(((Term(("foo", "bar"), prefix=True),),))),
        ("Ünïcode", QueryText(((Term(("Ünïcode",), prefix=True),),))),
        ("report *", QueryText(((Term(("report",)),),))),
        ("", None),
        ("-x", None),
        ("or", None),
        ('"" ( ) * :', None),
    ],
)
def test_parse(q: str, expected: QueryText | None):
    assert parse(q) == expected


@pytest.mark.parametrize(
    ("q", "fts5", "tsquery"),
    [
        ("solar panels", '("solar" AND "panels"*)', "(('solar' & 'panels':*))"),
        ('"budget report" 2026', '("budget report" AND "2026"*)', "(('budget' <-> 'report' & '2026':*))"),
        ("a or b cd", '("a") OR ("b" AND "cd"*)', "(('a') | ('b' & 'cd':*))"),
        ("-x yz", '(("yz"*)) NOT "x"', "(('yz':*)) & !('x')"),
        ('"AND ("', '("AND")', "(('AND'))"),
        ("title:report", '("title report"*)', "(('title' <-> 'report':*))"),
    ],
)
def test_renderings_quote_every_word(q: str, fts5: str, tsquery: str):
    parsed = parse(q)
    assert parsed is not None
    assert fts5_expression(parsed) == fts5
    assert tsquery_text(parsed) == tsquery


# Both backends


def test_the_last_word_is_a_prefix(corpus: Corpus):
    searching = corpus.add("Searching the archive took all week.")
    search = corpus.add("A search of the harbour.")
    corpus.add("Research budgets were cut.")

    assert set(corpus.search("searc")) == {searching, search}
    assert set(corpus.search("archive searc")) == {searching}
    assert set(corpus.search("searching")) == {searching, search}  # stemmed as before
    assert corpus.search("searc archive") == []  # only the last word is a prefix
    assert corpus.search("esearch") == []  # a prefix, not a substring


def test_a_quoted_last_word_is_not_a_prefix(corpus: Corpus):
    corpus.add("Searching the archive took all week.")
    lighthouse = corpus.add("The lighthouse keeper wrote notes.")

    assert corpus.search('"searc"') == []
    assert corpus.search('"searc') == []  # an unclosed quote still quotes
    assert corpus.search('"lighthouse keeper"') == [lighthouse]
    assert corpus.search('"lighthouse kee"') == []
    assert corpus.search('"keeper lighthouse"') == []  # a phrase's order matters
    assert corpus.search("lighthouse kee") == [lighthouse]


def test_a_one_letter_last_word_is_a_whole_word(corpus: Corpus):
    corpus.add("Searching the archive took all week.")
    vitamin = corpus.add("Vitamin C is water soluble.")

    assert corpus.search("s") == []
    assert corpus.search("vitamin c") == [vitamin]


def test_or_and_exclusion_with_a_prefix(corpus: Corpus):
    budget = corpus.add("The budget report was published.")
    weather = corpus.add("The weather report predicts rain.")
    phrase = corpus.add("Report on the budget of the weather service.")

    assert set(corpus.search("rain or publ")) == {budget, weather}
    assert set(corpus.search("report -weather")) == {budget}
    assert set(corpus.search('report -"weather service"')) == {budget, weather}
    assert set(corpus.search("-weath report")) == {budget, weather, phrase}  # an exclusion is whole words
    assert set(corpus.search('"budget report" or servi')) == {budget, phrase}
    assert corpus.search("-weather") == []  # nothing to find but exclusions: nothing searchable


def test_a_stop_word_as_the_last_word_does_not_widen_the_search(corpus: Corpus):
    budget = corpus.add("The budget report was published.")
    corpus.add("Theory of weather.")

    assert corpus.search("budget the") == [budget]


def test_a_prefix_match_is_marked_in_the_snippet(corpus: Corpus):
    corpus.add("Our harbour crane collapsed during the storm.")

    [hit] = corpus.backend.search(SearchQuery(tenant=corpus.tenant, q="harbour cra")).hits

    assert "<mark>crane</mark>" in hit.snippet.lower()
    assert "<mark>harbour</mark>" in hit.snippet.lower()


@pytest.mark.parametrize(
    "q",
    [
        "'",
        "''",
        '"\'"',
        "a:b:c",
        "&|!<>():*\\",
        "report &|!<>():*\\",
        "report & | ! <> ( ) : * \\",
        "'report':*",
        "report:*",
        "report:A",
        "!report",
        "report <-> budget",
        "report <2> budget",
        "report\\",
        "re'port",
        "日本語 検索",
        "\uff52\uff45\uff50\uff4f\uff52\uff54",  # fullwidth "report"
        "\u200b",
        "report \u0301",
        '-""',
        '- "',
        "report -",
        "report or",
        "or",
        "   ",
        "🦜",
        "x" * 3000,
        "re" * 2000,
        " ".join(["report"] * 300),
        " or ".join(["report"] * 100),
    ],
)
def test_hostile_input_never_errors(corpus: Corpus, q: str):
    budget = corpus.add("The budget report was published.")

    results = corpus.backend.search(SearchQuery(tenant=corpus.tenant, q=q))

    assert {hit.id for hit in results.hits} <= {budget}


def test_the_api_answers_hostile_input_with_200():
    from fastapi.testclient import TestClient
    from sie_api.main import app

    from tests.utils.api import make_key

    key = make_key()
    with TestClient(app) as client:
        for q in ["&|!<>():*\\", "'", '"', "searc", "-x", "a:*"]:
            response = client.get("/v1/search", params={"q": q}, headers=key.headers)
            assert response.status_code == 200, (q, response.text)


# SQLite ranks as PostgreSQL does, and keeps its FTS5 rows at their documents' rowids


def test_both_rank_only_the_newest_matches(corpus: Corpus, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(postgres, "RANK_WINDOW", 3)
    # The best match (the word in its title, twice in its text) is the oldest of five.
    best = corpus.add("Comet comet sighted.", title="Comet", created_at=NOW - timedelta(days=9))
    others = [corpus.add(f"A comet, report {n}.", created_at=NOW - timedelta(days=n)) for n in range(4)]

    results = corpus.backend.search(SearchQuery(tenant=corpus.tenant, q="comet", limit=10)).hits
    paged = [doc_id for offset in range(0, 5, 2) for doc_id in corpus.search("comet", limit=2, offset=offset)]

    assert [hit.id for hit in results] == [*others, best]
    assert [hit.score is None for hit in results] == [False, False, False, True, True]
    assert paged == [hit.id for hit in results]
    monkeypatch.setattr(postgres, "RANK_WINDOW", 5)
    assert corpus.search("comet", limit=10)[0] == best


def test_sqlite_remakes_an_older_fts_table(tmp_path: Path):
    """A table from before rowids were shared (and without prefix indexes) is made again, full."""
    engine = create_engine(f"sqlite:///{tmp_path / 'sie.db'}")
    Base.metadata.create_all(engine)
    backend = DatabaseSearch(engine=engine)
    backend.ensure_ready()
    corpus = Corpus(backend, _sqlite_scope(engine), "acme")
    first = corpus.add("Tulips bloom in April.")
    second = corpus.add("Roses bloom in June.")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE documents_fts"))
        connection.execute(
            text(
                "CREATE VIRTUAL TABLE documents_fts USING fts5(document_id UNINDEXED, tenant UNINDEXED, "
                "title, text, tokenize = 'porter unicode61')"
            )
        )
        # Rowids of its own, in another order than the documents'.
        for rowid, doc_id in [(7, second), (8, first)]:
            connection.execute(
                text(
                    "INSERT INTO documents_fts(rowid, document_id, tenant, title, text) "
                    "VALUES (:rowid, :doc_id, 'acme', '', 'x')"
                ),
                {"rowid": rowid, "doc_id": uuid.UUID(doc_id).hex},
            )

    fresh = DatabaseSearch(engine=engine)
    fresh.ensure_ready()

    assert {hit.id for hit in fresh.search(SearchQuery(tenant="acme", q="bloo")).hits} == {first, second}
    assert [hit.id for hit in fresh.search(SearchQuery(tenant="acme", q="tuli")).hits] == [first]
    engine.dispose()


# PostgreSQL: the index still serves a prefix


def test_postgres_prefix_query_uses_the_gin_index(postgres_corpus: Corpus):
    matches = PostgresFullText().matches(
        SearchQuery(tenant=postgres_corpus.tenant, q="harbour cra"), "harbour cra"
    )
    assert matches is not None
    condition = matches.conditions[-1]
    sql = condition.compile(dialect=get_engine().dialect, compile_kwargs={"literal_binds": True})
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(connection.execute(text(f"EXPLAIN SELECT id FROM documents WHERE {sql}")).scalars())

    # A partitioned `documents` names each month's copy of the index (`…_search_vector_idx`).
    assert "ix_documents_search" in plan or "_search_vector_idx" in plan
    assert ":*" in plan


def _sqlite_scope(engine: Engine) -> Callable[[], AbstractContextManager[Session]]:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def scope() -> Iterator[Session]:
        with sessions.begin() as session:
            yield session

    return scope
