"""Schemathesis against the API's own OpenAPI document: thousands of generated requests, valid and not.

Every operation is driven three ways: with an admin key, with a read-only key, and with whatever
`X-API-Key` the generator makes up (missing, malformed, unknown). Every response must be no 5xx, a
documented status code, the documented content type and headers, and a body matching its schema.

Two of Schemathesis' stricter checks are left out, on purpose: `positive_data_acceptance` (the
document cannot say "exactly one of text or url", so a schema-valid body may rightly get 422) and
`negative_data_rejection` (datetimes also accept Unix timestamps, as Pydantic reads them).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sie_api.main import app
from sqlalchemy import delete

from sie.core.db import session_scope
from sie.core.models import ApiKey, Document, IdempotencyRecord, Source
from tests.utils import api as api_keys

pytestmark = pytest.mark.slow

# Per operation and per credential: 17 operations x 3 credentials x up to 50 examples.
EXAMPLES_PER_OPERATION = 50
MIN_REQUESTS = 2000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
sent: dict[int, int] = {}


@pytest.fixture(scope="module")
def keys() -> Iterator[dict[str, api_keys.TestKey]]:
    """Keys of two fresh tenants; afterwards everything the generated requests made for them goes.

    Generated URL documents and sources name arbitrary hosts: left behind, a later test's worker or
    scheduler (which runs outside this process's loopback guard) could try to fetch them.
    """
    made = {"admin": api_keys.make_key(admin=True), "reader": api_keys.make_key(scopes=("read",))}
    yield made
    tenants = [key.tenant for key in made.values()]
    with session_scope() as session:
        for model in (Document, Source, IdempotencyRecord, ApiKey):
            session.execute(delete(model).where(model.tenant.in_(tenants)))
    total = sum(sent.values())
    print(f"\nschemathesis: {total} requests, by status {dict(sorted(sent.items()))}")
    assert total >= MIN_REQUESTS, f"only {total} generated requests were sent"


@pytest.fixture(scope="module", params=["admin", "reader", "generated"])
def credential(request: pytest.FixtureRequest, keys: dict[str, api_keys.TestKey]) -> str | None:
    return keys[request.param].plain if request.param in keys else None


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers(case: schemathesis.Case, credential: str | None) -> None:
    headers = {"X-API-Key": credential} if credential else None
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    sent[response.status_code] = sent.get(response.status_code, 0) + 1
