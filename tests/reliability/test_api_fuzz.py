"""Schemathesis against the API's own OpenAPI document, with every check, in all four phases.

The document is the whole contract: what it allows is accepted (`positive_data_acceptance`), what it
forbids is refused (`negative_data_rejection`), undeclared methods get 405 with a true `Allow`
(`unsupported_method`, `allow_header_conformance`), and the stateful phase follows the document's
links (a created document to its job, a created source to every route on it). Every response must be
no 5xx, a documented status code, the documented content type and headers, and match its schema.

It runs as `st run` would (the engine, not the pytest plugin), with a fixed seed: once with an admin
key in all four phases, then, without the stateful phase, with a read-only key and with whatever
`X-API-Key` the generator makes up. Bounded: examples per operation and a time limit per run, under
two minutes in all on two busy cores (docs/api.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.engine import events
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.hooks import HookContext
from schemathesis.transport.serialization import Binary
from sie_api.main import app
from sqlalchemy import delete

from sie.core.db import session_scope
from sie.core.models import ApiKey, Document, IdempotencyRecord, Source
from tests.utils import api as api_keys

pytestmark = pytest.mark.slow

ALL_PHASES = frozenset({"examples", "coverage", "fuzzing", "stateful"})


@dataclass(frozen=True)
class Run:
    """One run's bounds: examples per operation in each generating phase, and a stop for the whole
    run (seconds); and the least it must have sent."""

    max_examples: int
    max_time: int
    min_requests: int
    phases: frozenset[str] = ALL_PHASES


# The admin key reaches every operation, so it runs the stateful phase (links) too; a read-only key
# and made-up keys are refused nearly everywhere, and need fewer requests to show it.
RUNS = {
    "admin": Run(max_examples=25, max_time=70, min_requests=800),
    "reader": Run(max_examples=5, max_time=20, min_requests=80, phases=ALL_PHASES - {"stateful"}),
    "generated": Run(max_examples=5, max_time=20, min_requests=80, phases=ALL_PHASES - {"stateful"}),
}


def fuzz_config(headers: dict[str, str], run: Run) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261206,  # the same requests at every run: a failure is reproducible
            "max-time": run.max_time,
            "headers": headers,
            "checks": {"enabled": True},
            "phases": {phase: {"enabled": phase in run.phases} for phase in ALL_PHASES},
            "generation": {"max-examples": run.max_examples},
            "cache": {"enabled": False},
            # An uploaded file's type is read from its bytes, which no schema states: random bytes
            # are a 415, an image sent with `ocr_strategy=no_ocr` a 422 (docs/ocr.md).
            "operations": [
                {
                    "include-path": "/v1/documents/upload",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "415", "422"]
                        }
                    },
                }
            ],
            "suppress-health-check": ["all"],
        }
    )


def filter_failure(context: HookContext, failure: Failure, case: schemathesis.Case, response: Any) -> bool:
    """Keep every failure but one the generator makes itself: a file part carries bytes, so a file
    "negated" into an object or a number is sent as its JSON text, which is a file like any other."""
    body = case.body if isinstance(case.body, dict) else {}
    file_negated = "file" in body and not isinstance(body["file"], str | bytes | Binary)
    return not (isinstance(failure, AcceptedNegativeData) and file_negated)


def run_schemathesis(config: SchemathesisConfig) -> tuple[list[str], Counter[int], set[str]]:
    """The run's failures (one line each), the statuses answered, and the phases that ran."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    schema.hook(filter_failure)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    phases: set[str] = set()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            phases.add(str(getattr(event, "phase", "fuzzing")))
            failures.extend(_failed_checks(event.recorder))
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[interaction.response.status_code] += 1
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            failures.extend(
                f"{failure.operation}: {failure.title}: {failure.message}" for failure in event.failures
            )
    return failures, statuses, phases


def _failed_checks(recorder: ScenarioRecorder) -> Iterator[str]:
    for checks in recorder.checks.values():
        for check in checks:
            if check.failure_info is not None:
                failure = check.failure_info.failure
                sample = check.failure_info.code_sample
                yield f"{failure.operation}: {check.name}: {failure.title}\n{failure.message}\n{sample}"


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


@pytest.mark.parametrize("credential", list(RUNS))
def test_every_check_passes(credential: str, keys: dict[str, api_keys.TestKey]) -> None:
    run = RUNS[credential]
    headers = {"X-API-Key": keys[credential].plain} if credential in keys else {}

    failures, statuses, phases = run_schemathesis(fuzz_config(headers, run))

    sent = sum(statuses.values())
    print(f"\nschemathesis ({credential}): {sent} requests, {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    assert phases >= run.phases, phases
    assert sent >= run.min_requests, statuses
    assert not any(status >= 500 for status in statuses)
