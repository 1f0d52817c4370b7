"""What a page says about itself comes back on the document, and search filters on its publication date."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.reliability.running import run_job
from tests.unit.html_pages import BLOG_PAGE, NEWS_PAGE
from tests.utils.api import api_client_with_queue, make_key
from tests.worker.test_job_runner import RecordingQueue


@pytest.fixture(scope="module")
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture(scope="module")
def api(queue: RecordingQueue) -> Iterator[TestClient]:
    with api_client_with_queue(queue) as client:
        yield client


def upload_and_run(
    api: TestClient, queue: RecordingQueue, headers: dict[str, str], name: str, html: str
) -> dict:
    accepted = api.post(
        "/v1/documents/upload", files={"file": (name, html.encode(), "text/html")}, headers=headers
    )
    assert accepted.status_code == 202, accepted.text
    job = run_job(uuid.UUID(accepted.json()["job_id"]), queue)
    assert job.status == "done", job.error
    return api.get(f"/v1/documents/{accepted.json()['document_id']}", headers=headers).json()


def test_a_news_page_comes_back_with_its_metadata(api: TestClient, queue: RecordingQueue) -> None:
    document = upload_and_run(api, queue, make_key().headers, "pier.html", NEWS_PAGE.html)

    assert document["title"] == "Harbour council approves the new northern pier"
    assert document["author"] == "Maria Lindqvist, Tom Okafor"
    assert document["published_at"] == "2026-03-04T17:30:00Z"
    assert document["canonical_url"] == "https://www.baycourier.example/news/2026/03/harbour-pier-vote"
    assert document["site_name"] == "The Bay Courier"
    assert document["description"] == "Councillors voted 7-2 for the northern pier after a decade of dispute."
    assert document["text"].startswith(
        "Harbour council approves the new northern pier\n\nThe harbour council"
    )
    assert "Related headline" not in document["text"]


def test_pushed_text_has_no_page_metadata_but_can_be_given_a_date(
    api: TestClient, queue: RecordingQueue
) -> None:
    key = make_key()
    accepted = api.post(
        "/v1/documents",
        json={
            "text": "Minutes of the harbour meeting.",
            "metadata": {"published": "2025-06-01T12:00:00+02:00"},
        },
        headers=key.headers,
    ).json()
    run_job(uuid.UUID(accepted["job_id"]), queue)
    document = api.get(f"/v1/documents/{accepted['document_id']}", headers=key.headers).json()
    assert document["published_at"] == "2025-06-01T10:00:00Z"
    assert document["author"] is document["canonical_url"] is document["site_name"] is None


def test_search_filters_on_the_publication_date(api: TestClient, queue: RecordingQueue) -> None:
    key = make_key()
    news = upload_and_run(api, queue, key.headers, "news.html", NEWS_PAGE.html)  # 2026-03-04
    blog = upload_and_run(api, queue, key.headers, "blog.html", BLOG_PAGE.html)  # 2025-11-18
    undated = upload_and_run(
        api, queue, key.headers, "plain.html", "<html><body><p>An undated note.</p></body></html>"
    )

    def found(**params: str) -> set[str]:
        response = api.get("/v1/search", params=params, headers=key.headers)
        assert response.status_code == 200, response.text
        return {hit["id"] for hit in response.json()["hits"]}

    assert found() == {news["id"], blog["id"], undated["id"]}
    assert found(published_from="2026-01-01") == {news["id"]}
    assert found(published_to="2025-12-31T23:59:59Z") == {blog["id"]}
    assert found(published_from="2025-11-18T07:45:00Z", published_to="2026-03-04T17:30:00Z") == {
        news["id"],
        blog["id"],
    }
    [hit] = api.get("/v1/search", params={"q": "sourdough"}, headers=key.headers).json()["hits"]
    assert hit["published_at"] == "2025-11-18T07:45:00Z"


def test_a_malformed_publication_date_is_422(api: TestClient) -> None:
    response = api.get("/v1/search", params={"published_from": "last tuesday"}, headers=make_key().headers)
    assert response.status_code == 422 and "published_from" in response.text
