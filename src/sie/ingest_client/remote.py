"""Delivering through the SIE API over HTTP, waiting out its 429 and 503 answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from sie.core.schemas import OcrStrategyName
from sie.ingest_client.inputs import DocumentRequest, FileUpload
from sie.ingest_client.report import JobState, Outcome
from sie.ingest_client.senders import IngestAborted, accepted, refused, unreadable

HTTP_TIMEOUT_SECONDS = 60.0
# A 429/503 is retried after the server's Retry-After, but never waits longer than this per try.
MAX_RETRY_AFTER_SECONDS = 60.0
MAX_ATTEMPTS = 8


def api_client(api_url: str, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=api_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=HTTP_TIMEOUT_SECONDS
    )


class RemoteSender:
    """Talks to the SIE API over HTTP; `client` may be any httpx.Client (FastAPI's TestClient too)."""

    def __init__(self, client: httpx.Client, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._sleep = sleep

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send once, and again after Retry-After while the API answers 429 or 503."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                raise IngestAborted(f"cannot reach the API at {self.client.base_url}: {exc}") from exc
            if response.status_code in (401, 403):
                raise IngestAborted(f"the API refused the key ({response.status_code}: {_detail(response)})")
            if response.status_code not in (429, 503) or attempt == MAX_ATTEMPTS:
                return response
            self._sleep(_retry_after(response, attempt))
        raise AssertionError("unreachable")  # the loop returns on its last attempt

    def upload(
        self, item: FileUpload, *, source: str | None, priority: str, ocr_strategy: OcrStrategyName = "auto"
    ) -> Outcome:
        form = {"priority": priority, "ocr_strategy": ocr_strategy, **({"source": source} if source else {})}
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            return unreadable(item, exc)
        response = self._request(
            "POST", "/v1/documents/upload", files={"file": (item.path.name, data)}, data=form
        )
        if response.status_code == 202:
            return accepted(item.label, response.json())
        return refused(item.label, response.status_code, _detail(response))

    def submit(self, documents: Sequence[DocumentRequest]) -> list[Outcome]:
        response = self._request(
            "POST", "/v1/documents/batch", json={"documents": [document.body for document in documents]}
        )
        if response.status_code != 202:
            reason = _detail(response)
            return [refused(document.label, response.status_code, reason) for document in documents]
        results = response.json()["results"]
        return [accepted(document.label, result) for document, result in zip(documents, results, strict=True)]

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        states: dict[str, JobState] = {}
        for job_id in job_ids:
            response = self._request("GET", f"/v1/jobs/{job_id}")
            if response.status_code == 200:
                job = response.json()
                states[job_id] = JobState(status=job["status"], error=job.get("error"))
        return states

    def drain(self, timeout: float) -> None:
        return None


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(detail, list):  # FastAPI's 422: name each failing field
        return "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', [])[1:]) or 'body'}: {error.get('msg')}"
            for error in detail
        )
    return str(detail)


def _retry_after(response: httpx.Response, attempt: int) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        seconds = float(2**attempt)
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))
