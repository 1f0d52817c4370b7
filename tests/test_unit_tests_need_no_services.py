"""`tests/unit` runs with PostgreSQL and Redis down: only the folders whose conftest asks for them do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Port 1: nothing listens there, so any test that reaches for a service fails at once.
CLOSED_SERVICES = {
    "SIE_TEST_PG_ADMIN_URL": "postgresql://postgres@127.0.0.1:1/postgres",
    "SIE_TEST_REDIS_URL": "redis://127.0.0.1:1",
}


def test_unit_tests_pass_with_postgres_and_redis_unreachable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        env={**os.environ, **CLOSED_SERVICES},
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
