"""Alembic migrations and the SQLAlchemy models describe the same schema, and every step reverses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from sie.core.db import get_engine
from sie.core.models import Base

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("services")


def alembic(*args: str, database_url: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# Alembic cannot compare expression indexes; this GIN index exists only in the migration (PostgreSQL).
MIGRATION_ONLY_INDEXES = {"ix_documents_search"}
# The month and DEFAULT partitions (`sie.core.repository.partitions`): the database's, not the models'.
PARTITION = re.compile(r"^(documents|document_entities)_(p\d{4}_\d{2}|default)$")


def _compared(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    if type_ == "table" and name and PARTITION.match(name):
        return False
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def test_models_and_migrations_agree() -> None:
    with get_engine().connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _compared}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_downgrade_to_base_and_back_is_clean(scratch_database: str) -> None:
    alembic("upgrade", "head", database_url=scratch_database)
    engine = create_engine(scratch_database.replace("postgresql://", "postgresql+psycopg://"))
    tables_at_head = set(inspect(engine).get_table_names())
    assert {"documents", "jobs", "api_keys", "dead_letters"} <= tables_at_head

    alembic("downgrade", "-1", database_url=scratch_database)
    alembic("downgrade", "base", database_url=scratch_database)
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == {"alembic_version"}

    alembic("upgrade", "head", database_url=scratch_database)
    assert set(inspect(engine).get_table_names()) == tables_at_head
    engine.dispose()
    assert "(head)" in alembic("history", database_url=scratch_database)


def test_local_mode_migrates_sqlite(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'local.db'}"
    alembic("upgrade", "head", database_url=database_url)
    engine = create_engine(database_url)
    assert {"documents", "jobs", "api_keys"} <= set(inspect(engine).get_table_names())
    alembic("downgrade", "base", database_url=database_url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
