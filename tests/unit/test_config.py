"""Settings are validated once at start-up, with one readable line when they cannot work."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from sie.core.config import PUBLISHED_SECRETS, ConfigError, Settings, load_settings
from sie.core.db import REPO_ROOT
from sie.core.logging import configure_logging, get_logger


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


# The handbook's own forms (§5.1): accepted, or refused with a line that names the right form.

REAL_SECRET = "s" * 40
SERVICES = {"DATABASE_URL": "postgresql://sie@127.0.0.1/sie", "REDIS_URL": "redis://127.0.0.1:6379/0"}


@pytest.mark.parametrize(
    ("given", "meant"), [("dev", "development"), ("prod", "production"), ("Dev", "development")]
)
def test_handbook_environment_names_are_aliases(
    monkeypatch: pytest.MonkeyPatch, given: str, meant: str
) -> None:
    for name, value in {**SERVICES, "API_SECRET_KEY": REAL_SECRET, "ENVIRONMENT": given}.items():
        monkeypatch.setenv(name, value)
    assert load_settings().environment == meant


def test_handbook_environment_name_starts_the_engine() -> None:
    result = start_up({"ENVIRONMENT": "dev"})
    assert result.returncode == 0, result.stderr


def test_meilisearch_url_without_a_scheme_means_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEARCH_BACKEND", raising=False)
    monkeypatch.setenv("MEILISEARCH_URL", "localhost:7700")
    loaded = load_settings()
    assert loaded.effective_meilisearch_url == "http://localhost:7700"
    assert loaded.effective_search_backend == "meilisearch"
    monkeypatch.setenv("MEILISEARCH_URL", "https://search.example.com")
    assert load_settings().effective_meilisearch_url == "https://search.example.com"


def test_debug_gives_debug_logs_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("LOG_LEVEL", "info")
    loaded = load_settings()
    assert loaded.debug and loaded.log_level == "debug"

    stream = io.StringIO()
    configure_logging(loaded.log_level, stream=stream)
    try:
        get_logger("test").debug("debug_line_written", detail="x")
    finally:
        configure_logging("info")
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["event"] == "debug_line_written" and line["level"] == "debug"


def test_debug_is_refused_in_production_with_one_line() -> None:
    result = start_up(
        {"ENVIRONMENT": "production", "DEBUG": "true", "API_SECRET_KEY": REAL_SECRET, **SERVICES}
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "DEBUG=true is refused in production" in line and "LOG_LEVEL=debug" in line


def test_staging_requires_its_services_as_production_does() -> None:
    result = start_up({"ENVIRONMENT": "staging", "API_SECRET_KEY": REAL_SECRET})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "ENVIRONMENT=staging requires DATABASE_URL and REDIS_URL" in line
    assert start_up({"ENVIRONMENT": "staging", "API_SECRET_KEY": REAL_SECRET, **SERVICES}).returncode == 0


CHART_PUBLISHED_SECRETS = REPO_ROOT / "charts/sie/files/published-secrets.txt"


def test_the_api_refuses_the_secrets_the_chart_refuses() -> None:
    listed = {
        line.strip()
        for line in CHART_PUBLISHED_SECRETS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert listed | {""} == PUBLISHED_SECRETS


@pytest.mark.parametrize("secret", sorted(PUBLISHED_SECRETS - {""}))
@pytest.mark.parametrize(
    ("name", "setting"),
    [
        ("MEILISEARCH_KEY", lambda secret: {"meilisearch_key": secret}),
        ("DATABASE_URL", lambda secret: {"database_url": f"postgresql://sie:{secret}@db:5432/sie"}),
        ("REDIS_URL", lambda secret: {"redis_url": f"redis://:{secret.upper()}@redis:6379/0"}),
    ],
)
def test_production_refuses_a_secret_published_in_the_repository(name: str, setting, secret: str) -> None:
    services = {"database_url": "postgresql://sie@db/sie", "redis_url": "redis://redis:6379/0"}
    with pytest.raises(ValidationError, match=f"{name} uses a secret published in the SIE repository"):
        Settings(environment="production", api_secret_key=REAL_SECRET, **{**services, **setting(secret)})
