"""DATABASE_READ_URL and DATABASE_POOL_MODE: parsed and refused as DATABASE_URL is."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sie.core.config import Settings

PRIMARY = "postgresql://sie:s3cret-of-ours@db:5432/sie"


def test_read_url_takes_the_common_spellings_and_empty_means_none() -> None:
    replica = Settings(
        database_url=PRIMARY, database_read_url="postgres://sie:s3cret-of-ours@replica:5432/sie"
    )
    assert replica.sqlalchemy_read_url == "postgresql+psycopg://sie:s3cret-of-ours@replica:5432/sie"
    assert Settings(database_url=PRIMARY, database_read_url=" ").sqlalchemy_read_url is None


@pytest.mark.parametrize(
    ("primary", "read_url", "message"),
    [
        (None, "postgresql://replica/sie", "DATABASE_READ_URL needs DATABASE_URL"),
        (PRIMARY, "sqlite:///replica.db", "DATABASE_READ_URL must be a PostgreSQL URL"),
    ],
)
def test_read_url_refused_without_a_postgres_primary(
    primary: str | None, read_url: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(database_url=primary, database_read_url=read_url)


def test_a_published_password_in_the_read_url_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="DATABASE_READ_URL uses a secret published"):
        Settings(
            environment="staging",
            database_url=PRIMARY,
            database_read_url="postgresql://sie:sie-dev-password@replica:5432/sie",
            redis_url="redis://redis:6379/0",
            api_secret_key="x" * 40,
        )


def test_pool_mode_is_session_or_transaction() -> None:
    assert Settings(database_url=PRIMARY).database_pool_mode == "session"
    assert (
        Settings(database_url=PRIMARY, database_pool_mode="transaction").database_pool_mode == "transaction"
    )
    with pytest.raises(ValidationError, match="database_pool_mode"):
        Settings(database_url=PRIMARY, database_pool_mode="statement")
