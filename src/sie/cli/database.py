"""`sie migrate` and `sie reindex`: the schema and the search index.

Imports inside the commands keep `sie --help` fast: the database and engine modules load only for
the command that uses them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sie.cli.logs import setup_logging

app = typer.Typer()


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Alembic revision")] = "head") -> None:
    """Apply database migrations (`alembic upgrade head`), then create the month partitions due."""
    from sqlalchemy.exc import OperationalError

    from sie.core.db import migrate as run_migrations
    from sie.core.engine.partitions import maintain_partitions

    setup_logging()
    run_migrations(revision)
    typer.echo(f"database migrated to {revision}")
    # An older revision may predate partitioning: then there is nothing to create. The migration
    # made the months due; a try that waited too long for its lock is the scheduler's to redo.
    try:
        created = maintain_partitions()
    except OperationalError as exc:
        typer.echo(f"month partitions not created now (the scheduler retries hourly): {exc.orig}", err=True)
        return
    if created:
        typer.echo(f"partitions created: {', '.join(created)}")


@app.command()
def reindex(
    all_documents: Annotated[bool, typer.Option("--all", help="Rebuild the whole index")] = False,
) -> None:
    """Index documents that missed the search index (or, with --all, every document)."""
    from sie.core.engine.relay import mark_all_for_reindex, reindex_once

    setup_logging()
    if all_documents:
        typer.echo(f"{mark_all_for_reindex()} documents marked for re-indexing")
    total = 0
    while count := reindex_once():
        total += count
    typer.echo(f"{total} documents indexed")
