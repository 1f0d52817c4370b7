"""The Meilisearch adapter against the HTTP fake (itself held to Meilisearch's OpenAPI document)."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta, timezone

import meilisearch
import pytest
import requests
from meilisearch.errors import MeilisearchApiError

from sie.core.config import settings
from sie.core.errors import PermanentError, ServiceUnavailable
from sie.core.search import DatabaseSearch, MeilisearchSearch, SearchDocument, SearchQuery, get_search_backend
from sie.core.search.meili_filter import quote, search_filter
from sie.core.search.meilisearch import INDEX_SETTINGS, WRITE_BATCH
from tests.utils.meili_fake import MeiliFake, default_contract, parse_filter

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def make_doc(**overrides: object) -> SearchDocument:
    fields: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "tenant": "acme",
        "title": "A document",
        "text": "Nothing in particular happens in this text.",
        "source": "api",
        "url": None,
        "created_at": NOW,
    }
    fields.update(overrides)
    return SearchDocument(**fields)  # type: ignore[arg-type]


@pytest.fixture
def backend(meili_fake: MeiliFake) -> MeilisearchSearch:
    return MeilisearchSearch(meili_fake.url, meili_fake.api_key, "documents", timeout=2, task_timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- index setup ------------------------------------------------------------------------------------


def test_settings_are_applied_before_the_first_document(meili_fake: MeiliFake, backend: MeilisearchSearch):
    backend.index_documents([make_doc()])

    assert meili_fake.task_types() == ["indexCreation", "settingsUpdate", "documentAdditionOrUpdate"]
    index = meili_fake.indexes["documents"]
    assert index.primary_key == "id"
    for name, value in INDEX_SETTINGS.items():
        assert index.settings[name] == value


def test_ensure_ready_is_idempotent(meili_fake: MeiliFake, backend: MeilisearchSearch):
    backend.ensure_ready()
    backend.ensure_ready()
    # Another process starting up finds the index as it wants it.
    MeilisearchSearch(meili_fake.url, meili_fake.api_key, "documents").ensure_ready()

    assert meili_fake.task_types() == ["indexCreation", "settingsUpdate"]


def test_drifted_settings_are_repaired(meili_fake: MeiliFake, backend: MeilisearchSearch):
    doc = make_doc(text="Settings drift")
    backend.index_documents([doc])
    meili_fake.indexes["documents"].settings["filterableAttributes"] = ["source"]

    # A new process repairs them at start-up...
    MeilisearchSearch(meili_fake.url, meili_fake.api_key, "documents").ensure_ready()
    assert set(meili_fake.indexes["documents"].settings["filterableAttributes"]) == set(
        INDEX_SETTINGS["filterableAttributes"]
    )

    # ...and a running one when Meilisearch refuses its filter.
    meili_fake.indexes["documents"].settings["filterableAttributes"] = ["source"]
    assert [hit.id for hit in backend.search(SearchQuery(tenant="acme", q="drift")).hits] == [doc.id]
    assert meili_fake.task_types().count("settingsUpdate") == 3


def test_a_deleted_index_is_recreated_on_the_next_search(meili_fake: MeiliFake, backend: MeilisearchSearch):
    backend.index_documents([make_doc()])
    del meili_fake.indexes["documents"]

    assert backend.search(SearchQuery(tenant="acme")).total == 0
    assert "documents" in meili_fake.indexes


def test_first_search_on_a_fresh_server_sets_the_index_up(meili_fake: MeiliFake, backend: MeilisearchSearch):
    results = backend.search(SearchQuery(tenant="acme", q="anything"))

    assert results.hits == []
    assert results.total == 0
    assert meili_fake.task_types() == ["indexCreation", "settingsUpdate"]


def test_the_fake_refuses_filters_on_attributes_that_are_not_filterable(meili_fake: MeiliFake):
    # What production would do to an adapter that skipped its settings.
    client = meilisearch.Client(meili_fake.url, meili_fake.api_key)
    client.wait_for_task(client.create_index("bare", {"primaryKey": "id"}).task_uid)

    with pytest.raises(MeilisearchApiError) as excinfo:
        client.index("bare").search("", {"filter": 'tenant = "acme"'})

    assert excinfo.value.code == "invalid_search_filter"
    assert excinfo.value.status_code == 400


# -- writes -----------------------------------------------------------------------------------------


def test_upsert_replaces_a_document(backend: MeilisearchSearch):
    doc = make_doc(text="The original wording mentions giraffes.")
    backend.index_documents([doc])
    backend.index_documents([make_doc(id=doc.id, text="The new wording mentions zebras.")])

    assert backend.search(SearchQuery(tenant="acme", q="giraffes")).total == 0
    found = backend.search(SearchQuery(tenant="acme", q="zebras"))
    assert [hit.id for hit in found.hits] == [doc.id]
    assert backend.search(SearchQuery(tenant="acme")).total == 1


def test_large_writes_are_sent_in_batches(meili_fake: MeiliFake, backend: MeilisearchSearch):
    docs = [make_doc(text=f"Batch member {n}") for n in range(WRITE_BATCH * 2 + 7)]

    backend.index_documents(docs)

    assert meili_fake.task_types().count("documentAdditionOrUpdate") == 3
    results = backend.search(SearchQuery(tenant="acme", limit=1))
    # Meilisearch only estimates how many match (estimatedTotalHits), and the total says so.
    assert (results.total, results.total_relation) == (len(docs), "gte")
    # Past Meilisearch's default of 1,000 hits, as deep as the database backend pages.
    assert len(backend.search(SearchQuery(tenant="acme", offset=1_000, limit=20)).hits) == len(docs) - 1_000


def test_delete_documents(backend: MeilisearchSearch):
    keep, drop = make_doc(text="Keep this otter."), make_doc(text="Drop this otter.")
    backend.index_documents([keep, drop])

    backend.delete_documents([drop.id, str(uuid.uuid4())])

    assert [hit.id for hit in backend.search(SearchQuery(tenant="acme", q="otter")).hits] == [keep.id]


def test_a_document_meilisearch_rejects_is_a_permanent_error(backend: MeilisearchSearch):
    with pytest.raises(PermanentError, match="invalid_document_id"):
        backend.index_documents([make_doc(id="not a valid id!")])


# -- search -----------------------------------------------------------------------------------------


def test_tenants_never_see_each_others_documents(backend: MeilisearchSearch):
    ours, theirs = (
        make_doc(tenant="acme", text="Quarterly report"),
        make_doc(tenant="globex", text="Quarterly report"),
    )
    # Meilisearch compares filter strings case-insensitively; the adapter must still keep these apart.
    shouting = make_doc(tenant="ACME", text="Quarterly report")
    backend.index_documents([ours, theirs, shouting])

    for tenant, expected in (("acme", ours), ("globex", theirs), ("ACME", shouting)):
        results = backend.search(SearchQuery(tenant=tenant, q="quarterly"))
        assert [hit.id for hit in results.hits] == [expected.id]
    assert backend.search(SearchQuery(tenant="initech", q="quarterly")).hits == []


def test_matches_are_highlighted_in_a_cropped_snippet(backend: MeilisearchSearch):
    filler = " ".join(f"word{n}" for n in range(200))
    doc = make_doc(title="Foxes", text=f"{filler} the quick brown fox jumps {filler}")
    backend.index_documents([doc])

    [hit] = backend.search(SearchQuery(tenant="acme", q="fox")).hits

    assert "<mark>fox</mark>" in hit.snippet
    assert len(hit.snippet.split()) <= 32
    assert hit.snippet.startswith("…")
    assert hit.title == "Foxes"
    assert hit.created_at == NOW
    assert hit.score is not None


def test_empty_query_lists_newest_first(backend: MeilisearchSearch):
    docs = [make_doc(created_at=NOW - timedelta(days=n), text=f"Day {n} of the log") for n in (3, 0, 2, 1)]
    backend.index_documents(docs)

    results = backend.search(SearchQuery(tenant="acme"))

    assert [hit.created_at for hit in results.hits] == [NOW - timedelta(days=n) for n in range(4)]
    assert results.hits[0].snippet.startswith("Day 0")
    assert results.hits[0].score is None


@pytest.mark.parametrize(
    ("query_filters", "expected"),
    [
        ({"source": "rss"}, {"rss-berlin-positive"}),
        ({"source": "RSS-feed"}, set()),
        ({"entity": "berlin"}, {"rss-berlin-positive", "api-berlin-negative"}),
        ({"entity": "Paris"}, {"api-paris-neutral"}),
        ({"sentiment": "negative"}, {"api-berlin-negative"}),
        ({"date_from": NOW - timedelta(days=1, hours=1)}, {"rss-berlin-positive", "api-berlin-negative"}),
        ({"date_to": NOW - timedelta(days=1)}, {"api-berlin-negative", "api-paris-neutral"}),
        ({"entity": "berlin", "sentiment": "positive", "source": "rss"}, {"rss-berlin-positive"}),
    ],
)
def test_filters(backend: MeilisearchSearch, query_filters: dict[str, object], expected: set[str]):
    docs = {
        "rss-berlin-positive": make_doc(
            source="rss", entities=["Berlin"], sentiment_label="positive", created_at=NOW
        ),
        "api-berlin-negative": make_doc(
            entities=["Berlin", "Siemens"], sentiment_label="negative", created_at=NOW - timedelta(days=1)
        ),
        "api-paris-neutral": make_doc(
            entities=["Paris"], sentiment_label="neutral", created_at=NOW - timedelta(days=2)
        ),
    }
    backend.index_documents(list(docs.values()))
    names = {doc.id: name for name, doc in docs.items()}

    results = backend.search(SearchQuery(tenant="acme", **query_filters))  # type: ignore[arg-type]

    assert {names[hit.id] for hit in results.hits} == expected
    assert results.total == len(expected)


@pytest.mark.parametrize(
    ("query_filters", "expected"),
    [
        ({"published_from": datetime(2024, 3, 1, tzinfo=UTC)}, {"march", "april"}),
        ({"published_to": datetime(2024, 3, 31, 23, 59, tzinfo=UTC)}, {"february", "march"}),
        ({"published_from": datetime(2024, 3, 1), "published_to": datetime(2024, 3, 31)}, {"march"}),
        (
            {"published_to": datetime(2024, 4, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))},
            {"february", "march"},
        ),
        ({"published_from": datetime(2030, 1, 1, tzinfo=UTC)}, set()),
    ],
)
def test_publication_date_filters(
    backend: MeilisearchSearch, query_filters: dict[str, object], expected: set[str]
):
    """Documents without a publication date never match a publication-date filter."""
    docs = {
        "undated": make_doc(),
        "february": make_doc(published_at=datetime(2024, 2, 10, 9, tzinfo=UTC)),
        "march": make_doc(published_at=datetime(2024, 3, 15, 9, 0, 0, 250_000, tzinfo=UTC)),
        "april": make_doc(published_at=datetime(2024, 4, 1, 23, 45, tzinfo=UTC)),
    }
    backend.index_documents(list(docs.values()))
    names = {doc.id: name for name, doc in docs.items()}

    results = backend.search(SearchQuery(tenant="acme", **query_filters))  # type: ignore[arg-type]

    assert {names[hit.id] for hit in results.hits} == expected
    for hit in results.hits:
        assert hit.published_at == docs[names[hit.id]].published_at


def test_pagination_and_total(backend: MeilisearchSearch):
    docs = [make_doc(text=f"Meeting notes {n}", created_at=NOW - timedelta(minutes=n)) for n in range(25)]
    backend.index_documents(docs)

    pages = [
        backend.search(SearchQuery(tenant="acme", q="meeting", limit=10, offset=offset))
        for offset in (0, 10, 20)
    ]

    assert [len(page.hits) for page in pages] == [10, 10, 5]
    assert {page.total for page in pages} == {25}
    assert {hit.id for page in pages for hit in page.hits} == {doc.id for doc in docs}


@pytest.mark.parametrize(
    "source",
    [
        'say "hi"',
        "C:\\temp\\",
        "back\\slash",
        "it's",
        'x" OR tenant = "globex',
        '\\"',
        "tab\there",
        "ünïcødé",
    ],
)
def test_filter_values_are_escaped(backend: MeilisearchSearch, source: str):
    ours = make_doc(source=source, text="Escaping matters")
    other_tenant = make_doc(tenant="globex", source="x", text="Escaping matters")
    backend.index_documents([ours, other_tenant, make_doc(source="plain", text="Escaping matters")])

    results = backend.search(SearchQuery(tenant="acme", source=source))

    assert [hit.id for hit in results.hits] == [ours.id]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("plain", '"plain"'), ('a"b', '"a\\"b"'), ("a\\", '"a\\\\"'), ('\\"', '"\\\\\\""')],
)
def test_quote_reads_back_as_the_same_value(value: str, expected: str):
    assert quote(value) == expected
    # The fake parses filters the way Meilisearch's filter-parser does.
    assert parse_filter(f"source = {quote(value)}") == ("eq", "source", value)


def test_search_filter_always_starts_with_the_tenant():
    query = SearchQuery(tenant='evil" OR tenant != "x', source="rss", date_from=NOW)
    assert search_filter(query) == [
        'tenant = "evil\\" OR tenant != \\"x"',
        'source = "rss"',
        f"created_at_ts >= {NOW.timestamp():.6f}",
    ]


# -- failures -------------------------------------------------------------------------------------


def test_unreachable_server_is_service_unavailable():
    backend = MeilisearchSearch(f"http://127.0.0.1:{free_port()}", "key", "documents", timeout=1)

    for call in (
        backend.check,
        backend.ensure_ready,
        lambda: backend.index_documents([make_doc()]),
        lambda: backend.delete_documents(["x"]),
        lambda: backend.search(SearchQuery(tenant="acme", q="x")),
    ):
        with pytest.raises(ServiceUnavailable) as excinfo:
            call()
        assert excinfo.value.service == "search"


def test_slow_server_times_out_as_service_unavailable(meili_fake: MeiliFake):
    meili_fake.response_delay = 1.0
    backend = MeilisearchSearch(meili_fake.url, meili_fake.api_key, "documents", timeout=0.2)

    with pytest.raises(ServiceUnavailable, match="Timeout"):
        backend.check()


def test_refused_key_is_service_unavailable(meili_fake: MeiliFake):
    backend = MeilisearchSearch(meili_fake.url, "not-the-key", "documents", timeout=2)

    with pytest.raises(ServiceUnavailable, match="invalid_api_key"):
        backend.check()
    with pytest.raises(ServiceUnavailable, match="invalid_api_key"):
        backend.search(SearchQuery(tenant="acme"))


def test_check_passes_on_a_healthy_server(backend: MeilisearchSearch):
    backend.check()


# -- the fake keeps to the contract -----------------------------------------------------------------


def test_the_fake_flags_requests_outside_the_contract(meili_fake: MeiliFake):
    headers = {"Authorization": f"Bearer {meili_fake.api_key}", "Content-Type": "application/json"}
    requests.post(f"{meili_fake.url}/indexes", json={"uid": "docs"}, headers=headers, timeout=5)

    unknown_parameter = requests.post(
        f"{meili_fake.url}/indexes/docs/search",
        json={"q": "x", "highlight": True},
        headers=headers,
        timeout=5,
    )
    unknown_route = requests.post(
        f"{meili_fake.url}/indexes/docs/frobnicate", json={}, headers=headers, timeout=5
    )

    assert unknown_parameter.status_code == 400
    assert unknown_route.status_code == 404
    assert any("'highlight' was unexpected" in v for v in meili_fake.violations)
    assert any("frobnicate" in v for v in meili_fake.violations)
    meili_fake.violations.clear()  # seen and expected: do not fail the fixture


def test_the_contract_flags_responses_that_do_not_match():
    contract = default_contract()
    operation = contract.find("GET", "/tasks/3")
    assert operation is not None

    assert contract.check_response(operation, 200, {"uid": 3, "status": "enqueued", "type": "settingsUpdate"})
    assert contract.check_response(
        operation, 200, {"uid": 3, "status": "napping", "type": "x", "enqueuedAt": "t"}
    )
    assert not contract.check_response(
        operation,
        200,
        {"uid": 3, "status": "succeeded", "type": "settingsUpdate", "enqueuedAt": "2026-11-20T12:00:00Z"},
    )


# -- choosing the backend ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "expected"), [("meilisearch", MeilisearchSearch), ("database", DatabaseSearch)]
)
def test_backend_follows_settings(monkeypatch: pytest.MonkeyPatch, configured: str, expected: type):
    monkeypatch.setattr(settings, "search_backend", configured)
    get_search_backend.cache_clear()
    try:
        backend = get_search_backend()
        assert isinstance(backend, expected)
        assert backend is get_search_backend()
    finally:
        get_search_backend.cache_clear()
