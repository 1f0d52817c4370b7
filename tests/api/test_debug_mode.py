"""`DEBUG=true` (development only: production refuses it) answers an unexpected failure with its traceback."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sie.core.config import settings


def app_that_fails(debug: bool, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    from sie_api.main import create_app

    monkeypatch.setattr(settings, "debug", debug)
    app = create_app()

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("an unexpected failure")

    return app


def test_debug_answers_an_unexpected_failure_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(app_that_fails(True, monkeypatch), raise_server_exceptions=False)
    response = client.get("/fails")
    assert response.status_code == 500
    assert "Traceback" in response.text and "RuntimeError: an unexpected failure" in response.text


def test_without_debug_the_answer_tells_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(app_that_fails(False, monkeypatch), raise_server_exceptions=False)
    response = client.get("/fails")
    assert response.status_code == 500
    assert "Traceback" not in response.text and "unexpected failure" not in response.text
