"""One error tree, mapped once: each error answers with its own status, a public detail and its headers;
database failures become `ServiceUnavailable` wherever a route meets them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sie_api
from fastapi.testclient import TestClient
from sie_api.routes import jobs as jobs_route
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from sie.core.errors import PermanentError, SieError
from tests.utils.api import make_key


def _tree(root: type[SieError]) -> list[type[SieError]]:
    return [root, *(cls for sub in root.__subclasses__() for cls in _tree(sub))]


def test_every_error_carries_an_http_status_and_a_public_message() -> None:
    for error in _tree(SieError):
        assert 400 <= error.status_code < 600, error
        assert error.message_is_public or error.public_message, error


def test_a_private_message_never_becomes_the_detail() -> None:
    error = PermanentError("postgresql://sie:hunter2@db/sie refused")
    assert error.detail == "internal error"


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("SELECT 1", {}, ConnectionError("server closed the connection unexpectedly")),
        PoolTimeoutError("QueuePool limit of size 20 overflow 30 reached"),
    ],
    ids=["lost", "pool-exhausted"],
)
def test_a_database_failure_in_a_route_is_503_with_retry_after(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def fail(**_: object) -> None:
        raise failure

    monkeypatch.setattr(jobs_route, "get_tenant_job", fail)
    response = client.get(f"/v1/jobs/{uuid.uuid4()}", headers=make_key().headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {"detail": "database is temporarily unavailable; retry later"}


def test_an_unexpected_error_of_the_tree_is_500_without_its_message(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(**_: object) -> None:
        raise PermanentError("postgresql://sie:hunter2@db/sie refused")

    monkeypatch.setattr(jobs_route, "get_tenant_job", fail)
    response = client.get(f"/v1/jobs/{uuid.uuid4()}", headers=make_key().headers)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}


def test_routes_raise_errors_of_the_tree_and_never_translate_them() -> None:
    package = Path(sie_api.__file__).parent
    for module in [package / "deps.py", *(package / "routes").glob("*.py")]:
        assert "HTTPException" not in module.read_text(), module
