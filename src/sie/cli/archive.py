"""`sie archive restore`: documents archived by retention, back in the database and the index."""

from __future__ import annotations

import re
from typing import Annotated

import typer

app = typer.Typer(help="Cold storage: restore documents archived by retention.", no_args_is_help=True)

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _month(value: str | None) -> str | None:
    if value is not None and not MONTH.fullmatch(value):
        raise typer.BadParameter("a month is written YYYY-MM, such as 2026-01")
    return value


@app.command("restore")
def restore(
    location: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_URL", help="The archive (ARCHIVE_URL), a directory in it, or one part"
        ),
    ],
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's documents")] = None,
    month: Annotated[
        str | None, typer.Option(callback=_month, help="Only documents created in this month (YYYY-MM)")
    ] = None,
) -> None:
    """Re-insert archived documents (skipping those present), their rollups, and index them."""
    from sie.cli.logs import setup_logging
    from sie.core.engine.archive import ArchiveError
    from sie.core.engine.archive import restore as run

    setup_logging()
    try:
        result = run(location, tenant=tenant, month=month)
    except ArchiveError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from None
    if not result.parts:
        typer.echo(f"no archive parts under {location}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"{result.restored} documents restored ({result.read - result.restored} present already) "
        f"from {result.parts} parts; {result.indexed} indexed"
        + (f", {result.index_deferred} left for the re-index sweep" if result.index_deferred else "")
    )
