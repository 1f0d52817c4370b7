"""Fixtures of the delivery tests: the chart rendered with each values profile the issue names."""

from __future__ import annotations

from typing import Any

import pytest

from bench.scratch import ScratchServices
from tests.delivery.chart_render import (
    KIND_VALUES,
    MONITORING_API,
    PRODUCTION_VALUES,
    REQUIRED_VALUES,
    Rendered,
    load_values,
    render,
)


@pytest.fixture(scope="session", autouse=True)
def _needs_services(services: ScratchServices) -> None:
    """Every test in this folder runs on the run's PostgreSQL database and Redis db (tests/conftest.py)."""


@pytest.fixture(scope="session")
def production_values() -> dict[str, Any]:
    return load_values(PRODUCTION_VALUES)


@pytest.fixture(scope="session")
def kind_values() -> dict[str, Any]:
    return load_values(KIND_VALUES)


@pytest.fixture(scope="session")
def defaults_render() -> Rendered:
    return render(REQUIRED_VALUES)


@pytest.fixture(scope="session")
def production_render(production_values: dict[str, Any]) -> Rendered:
    return render(production_values, api_versions=(MONITORING_API,))


@pytest.fixture(scope="session")
def dev_render(kind_values: dict[str, Any]) -> Rendered:
    return render(kind_values)
