"""Settings are validated once at start-up, with one readable line when they cannot work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sie.core.config import ConfigError, Settings, load_settings


def start_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in Settings.model_fields
        and key.upper() not in {name.upper() for name in Settings.model_fields}
    }
    return subprocess.run(
        [sys.executable, "-c", "import sie.core.config"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_required_services_stops_with_one_line() -> None:
    result = start_up({"ENVIRONMENT": "production", "API_SECRET_KEY": "x" * 40})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "DATABASE_URL" in lines[0] and "REDIS_URL" in lines[0]


def test_placeholder_secret_refused_outside_development() -> None:
    result = start_up({"ENVIRONMENT": "staging", "API_SECRET_KEY": "changeme"})
    assert result.returncode == 2 and "API_SECRET_KEY" in result.stderr


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FETCH_ALLOWED_NETWORKS", "10.0.0.0/8,not-a-network")
    with pytest.raises(ConfigError, match="FETCH_ALLOWED_NETWORKS"):
        load_settings()


def test_local_mode_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "MEILISEARCH_URL", "SEARCH_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    local = load_settings()
    assert local.local_mode and local.sqlalchemy_url.startswith("sqlite:///")
    assert local.effective_search_backend == "database"
    monkeypatch.setenv("MEILISEARCH_URL", "http://127.0.0.1:7700")
    assert load_settings().effective_search_backend == "meilisearch"


def test_postgres_url_spellings_use_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/sie")
    assert load_settings().sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/sie"
    monkeypatch.setenv("FETCH_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")
    assert [str(n) for n in load_settings().fetch_allowed_networks] == ["127.0.0.0/8", "::1/128"]


def test_sentry_dsn_enables_error_reporting(monkeypatch: pytest.MonkeyPatch) -> None:
    import sentry_sdk

    from sie.core.config import settings
    from sie.core.observability import init_sentry

    assert init_sentry("api") is False  # no DSN: nothing is reported
    monkeypatch.setattr(settings, "sentry_dsn", "http://public@127.0.0.1:9/1")
    try:
        assert init_sentry("api") is True
        assert sentry_sdk.get_client().is_active()
    finally:
        sentry_sdk.init(dsn=None)
