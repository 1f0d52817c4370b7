"""`sie retention set|show|run`: how long each tenant's documents are kept, and expiring them now.

The scheduler runs retention once an hour by itself; `run` is for a first run, a check (`--dry-run`)
or a deployment without a scheduler (a CronJob: docs/retention.md). Imports inside the commands keep
`sie --help` fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sie.core.schemas.tenants import MAX_RETENTION_DAYS

if TYPE_CHECKING:
    from sie.core.schemas.tenants import RetentionPublic

app = typer.Typer(help="Retention: how long each tenant's documents are kept.", no_args_is_help=True)

TenantName = Annotated[str, typer.Argument(help="The tenant")]


@app.command("set")
def set_retention(
    tenant: TenantName,
    days: Annotated[
        int | None, typer.Option(min=1, max=MAX_RETENTION_DAYS, help="Keep its documents this many days")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Keep its documents forever")] = False,
    default: Annotated[bool, typer.Option("--default", help="Follow RETENTION_DAYS again")] = False,
) -> None:
    """Set one tenant's retention: --days N, --off, or --default (drop its own setting)."""
    from sie.core.db import session_scope
    from sie.core.repository.retention import set_tenant_retention

    if [days is not None, off, default].count(True) != 1:
        raise typer.BadParameter("give exactly one of --days N, --off or --default")
    if len(tenant) > 100 or not tenant.strip():
        raise typer.BadParameter("a tenant name is 1 to 100 characters", param_hint="TENANT")
    with session_scope() as session:
        view = set_tenant_retention(session=session, tenant=tenant, days=0 if off else days)
    typer.echo(_line(view))


@app.command("show")
def show_retention(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
) -> None:
    """The default (RETENTION_DAYS), then each tenant with its own setting."""
    from sie.core.config import settings
    from sie.core.db import session_scope
    from sie.core.repository.retention import tenant_retention, tenant_retentions

    typer.echo(f"default\t{_days(settings.retention_days)}")
    with session_scope() as session:
        views = (
            [tenant_retention(session=session, tenant=tenant)]
            if tenant
            else tenant_retentions(session=session)
        )
    for view in views:
        typer.echo(_line(view))


@app.command("run")
def run_retention(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing")] = False,
) -> None:
    """Archive (when ARCHIVE_URL is set) and delete every expired document now. Exit status 1 when a
    tenant's run failed (its documents not archived are not deleted)."""
    from sie.cli.logs import setup_logging
    from sie.core.engine.retention import run_retention as run

    setup_logging()
    runs = run(tenant=tenant, dry_run=dry_run)
    for item in runs:
        if dry_run:
            typer.echo(
                f"{item.tenant}\t{item.expired} documents older than {item.days} days would be deleted"
            )
        elif item.error:
            typer.echo(f"{item.tenant}\tfailed after {item.removed} documents: {item.error}", err=True)
        else:
            archived = f"{item.archived} archived ({len(item.parts)} parts)"
            typer.echo(f"{item.tenant}\t{item.removed} documents deleted, {archived}")
    if dry_run:
        typer.echo("dry run: nothing changed")
    if not runs:
        typer.echo("retention applies to no tenant (RETENTION_DAYS unset, no tenant setting)")
    if any(item.error for item in runs):
        raise typer.Exit(1)


def _days(days: int | None) -> str:
    return f"{days} days" if days else "off"


def _line(view: RetentionPublic) -> str:
    own = "default" if view.retention_days is None else _days(view.retention_days)
    return f"{view.tenant}\t{own}\t(effective: {_days(view.effective_days)})"
