"""`sie insights rebuild`: recompute the daily rollups the insights endpoints read, from the documents.

The store and delete paths keep the rollups in step by themselves; a rebuild is for after a restore
from a backup, a bulk load straight into the tables (as `bench/scale.py` seeds), or a repair. The
import inside the command keeps `sie --help` fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="The daily rollups behind the insights endpoints.", no_args_is_help=True)


@app.command("rebuild")
def rebuild(tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None) -> None:
    """Recompute the rollups (one tenant's, or all) from the documents; safe to run again."""
    from sie.core.db import session_scope
    from sie.core.repository.rollups import rebuild_rollups

    with session_scope() as session:
        rebuild_rollups(session=session, tenant=tenant)
    typer.echo(f"rollups rebuilt for tenant {tenant}" if tenant else "rollups rebuilt for every tenant")
