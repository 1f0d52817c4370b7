"""JSON Feed sources: which items count, malformed documents, caps, conditional GET, and the API path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sie.core.config import settings
from sie.core.engine.scheduler import SourceScheduler
from sie.core.errors import MalformedListing
from sie.core.fetch import FetchedContent
from sie.core.sources.base import DiscoveredItem
from sie.core.sources.json_feed import parse_json_feed
from tests.sources.source_helpers import ingested, item_statuses, make_source, source_row
from tests.sources.sources_site import Site
from tests.utils.api import make_key

FEED_URL = "http://127.0.0.1:8000/feed.json"
JSON_FEED_TYPE = "application/feed+json"


def json_feed(items: list[Any], *, version: str = "https://jsonfeed.org/version/1.1") -> str:
    return json.dumps({"version": version, "title": "Test JSON feed", "items": items})


def fetched(body: str | bytes) -> FetchedContent:
    content = body.encode() if isinstance(body, str) else body
    return FetchedContent(url=FEED_URL, content=content, content_type=JSON_FEED_TYPE, status_code=200)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(
            {
                "id": "1",
                "url": "http://127.0.0.1:8000/posts/1",
                "title": "First",
                "content_html": "<p>Hello</p>",
                "date_published": "2026-11-28T10:00:00+01:00",
            },
            DiscoveredItem(
                url="http://127.0.0.1:8000/posts/1",
                title="First",
                guid="1",
                published=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
            ),
            id="url-title-id-date",
        ),
        pytest.param(
            {"id": "2", "url": "/posts/2", "date_modified": "2026-11-28T10:00:00Z"},
            DiscoveredItem(
                url="http://127.0.0.1:8000/posts/2",
                guid="2",
                published=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
            ),
            id="relative-url-and-modified-date",
        ),
        pytest.param(
            {"id": "https://blog.example.com/3#top", "content_text": "Note"},
            DiscoveredItem(url="https://blog.example.com/3", guid="https://blog.example.com/3#top"),
            id="no-url-but-an-id-that-is-one",
        ),
        pytest.param(
            {"id": 42, "url": "http://127.0.0.1:8000/posts/42"},
            # The spec asks readers to coerce a numeric id to a string.
            DiscoveredItem(url="http://127.0.0.1:8000/posts/42", guid="42"),
            id="numeric-id-becomes-text",
        ),
        # An item with only content is ingested from it: tests/unit/test_feed_reading.py.
        pytest.param(
            {"id": "6", "external_url": "https://elsewhere.example/6"}, None, id="external-url-only"
        ),
        pytest.param({"id": "7", "url": "mailto:someone@example.org"}, None, id="not-http"),
        pytest.param({"id": "8", "url": 8, "title": ["x"]}, None, id="wrong-types"),
        pytest.param("not an object", None, id="item-not-an-object"),
    ],
)
def test_which_items_count(item: Any, expected: DiscoveredItem | None) -> None:
    items = parse_json_feed(fetched(json_feed([item])), max_items=10).items
    assert items == ([expected] if expected else [])


def test_version_1_0_is_read_too() -> None:
    body = json_feed(
        [{"id": "a", "url": "http://127.0.0.1:8000/a"}], version="https://jsonfeed.org/version/1"
    )
    assert [item.url for item in parse_json_feed(fetched(body), max_items=10).items] == [
        "http://127.0.0.1:8000/a"
    ]


def test_max_items_is_honoured() -> None:
    body = json_feed([{"id": str(n), "url": f"http://127.0.0.1:8000/{n}"} for n in range(5)])
    result = parse_json_feed(fetched(body), max_items=3)
    assert [item.guid for item in result.items] == ["0", "1", "2"] and result.truncated


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("{not json", "is not valid JSON", id="not-json"),
        pytest.param(b"\xff\xfe\x00garbage", "is not valid JSON", id="not-text"),
        pytest.param("[" * 100_000 + "]" * 100_000, "is not valid JSON", id="nested-too-deep"),
        pytest.param('["a", "list"]', "is not a JSON Feed", id="not-an-object"),
        pytest.param('{"title": "x", "items": []}', "is not a JSON Feed", id="no-version"),
        pytest.param(
            json.dumps({"version": "https://jsonfeed.org/version/1.1"}),
            "without an `items` list",
            id="no-items",
        ),
        pytest.param(
            json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": {"a": 1}}),
            "without an `items` list",
            id="items-not-a-list",
        ),
    ],
)
def test_malformed_documents(body: str | bytes, reason: str) -> None:
    with pytest.raises(MalformedListing, match=reason) as raised:
        parse_json_feed(fetched(body), max_items=10)
    assert FEED_URL in str(raised.value)


# -- against the local site -------------------------------------------------------------------------


def serve_json_feed(site: Site, paths: list[str]) -> list[str]:
    links = [site.serve_article(path) for path in paths]
    items = [{"id": f"urn:item:{n}", "url": link, "title": f"Item {n}"} for n, link in enumerate(links)]
    site.serve("/feed.json", json_feed(items), content_type=JSON_FEED_TYPE)
    return links


def test_a_poll_ingests_the_items_and_the_next_one_gets_304(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    links = serve_json_feed(site, [f"/posts/{n}" for n in range(3)])
    source_id = make_source(tenant, name="jf", type="json_feed", url=site.url("/feed.json"), interval="1h")

    first = scheduler.poll_source(source_id)
    second = scheduler.poll_source(source_id)

    assert first is not None and first.outcome == "ok" and first.counts.ingested == 3
    done = ingested(tenant, "jf")
    assert done.urls == set(links) and done.jobs == 3
    assert {d.external_id for d in done.documents} == {"urn:item:0", "urn:item:1", "urn:item:2"}
    assert all(d.meta["source_type"] == "json_feed" for d in done.documents)
    assert second is not None and second.outcome == "not_modified"
    assert site.requests_for("/feed.json")[1].headers["If-None-Match"] == site.pages["/feed.json"].etag


def test_discovered_items_are_capped_per_poll(
    site: Site, scheduler: SourceScheduler, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "source_max_discovered_items", 2)
    links = serve_json_feed(site, [f"/posts/{n}" for n in range(4)])
    source_id = make_source(tenant, type="json_feed", url=site.url("/feed.json"))

    result = scheduler.poll_source(source_id)

    assert result is not None and result.counts.found == 2
    assert ingested(tenant).urls == set(links[:2])
    assert item_statuses(source_id).keys() == set(links[:2])


def test_a_malformed_feed_fails_the_poll_with_its_reason(
    site: Site, scheduler: SourceScheduler, tenant: str
) -> None:
    site.serve(
        "/feed.json",
        '{"version": "https://jsonfeed.org/version/1.1", "items": [',
        content_type=JSON_FEED_TYPE,
    )
    source_id = make_source(tenant, type="json_feed", url=site.url("/feed.json"))

    result = scheduler.poll_source(source_id)

    assert result is not None and result.outcome == "failed"
    source = source_row(source_id)
    assert source.consecutive_failures == 1
    assert f"{site.url('/feed.json')} is not valid JSON" in (source.last_error or "")


def test_a_json_feed_declared_through_the_api_is_polled_and_ingested(client: TestClient, site: Site) -> None:
    admin = make_key(admin=True)
    links = serve_json_feed(site, ["/notes/a", "/notes/b"])
    body = {"type": "json_feed", "url": site.url("/feed.json"), "interval": "15m"}

    created = client.put("/v1/sources/notes", json=body, headers=admin.headers)
    polled = client.post("/v1/sources/notes/sync?wait=true", headers=admin.headers)

    assert created.status_code == 201 and created.json()["type"] == "json_feed"
    assert polled.status_code == 200
    status = polled.json()["status"]
    assert status["items_ingested"] == 2 and status["last_poll"]["outcome"] == "ok"
    assert ingested(admin.tenant, "notes").urls == set(links)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"type": "json_feed"}, "a json_feed source needs `url`"),
        ({"type": "json_feed", "urls": ["http://example.org/a"]}, "a json_feed source needs `url`"),
    ],
)
def test_a_json_feed_without_its_url_is_refused(client: TestClient, payload: dict, fragment: str) -> None:
    admin = make_key(admin=True)
    response = client.put("/v1/sources/bad-feed", json=payload, headers=admin.headers)
    assert response.status_code == 422 and fragment in response.text
