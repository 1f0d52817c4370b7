"""The `sie` command, run in the test's own process: the run's settings, database and Redis db."""

from __future__ import annotations

from typer.testing import CliRunner, Result


def sie(*args: str) -> Result:
    """`sie ARGS` as a user types it, run by `USER=on-call`."""
    from sie.cli import app

    return CliRunner().invoke(app, list(args), env={"USER": "on-call"})
