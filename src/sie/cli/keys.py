"""`sie api-key create|list|revoke`: API keys, straight in the configured database.

Imports inside the commands keep `sie --help` fast: SQLAlchemy and the key code load only when a
key command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

PRIORITIES = ("low", "normal", "high")


def parse_rate_limits(values: list[str]) -> dict[str, dict[str, int]] | None:
    """`PRIORITY=REQUESTS/SECONDS` overrides as the key's `rate_limits`, or None for the defaults."""
    limits: dict[str, dict[str, int]] = {}
    for value in values:
        try:
            priority, rule = value.split("=", 1)
            requests, period = rule.split("/", 1)
            if priority not in PRIORITIES:
                raise ValueError(priority)
            limits[priority] = {"requests": int(requests), "period": int(period)}
        except ValueError:
            raise typer.BadParameter(
                f"expected PRIORITY=REQUESTS/SECONDS (e.g. normal=600/60), got {value!r}"
            ) from None
    return limits or None


@app.command("create")
def create_key(
    tenant: Annotated[str, typer.Option(help="The tenant the key belongs to")],
    admin: Annotated[bool, typer.Option("--admin", help="Grant every scope, including admin")] = False,
    system: Annotated[
        bool,
        typer.Option("--system", help="Every scope plus system: may act for any tenant (the operator's key)"),
    ] = False,
    name: Annotated[str, typer.Option(help="A label for people")] = "",
    scope: Annotated[list[str], typer.Option(help="Scopes: ingest, read, admin (repeatable)")] = [],  # noqa: B006
    rate_limit: Annotated[
        list[str], typer.Option(help="Override a limit: PRIORITY=REQUESTS/SECONDS (repeatable)")
    ] = [],  # noqa: B006
) -> None:
    """Create an API key; the key is printed once and only its HMAC is stored."""
    from sie.core.db import session_scope
    from sie.core.security import ALL_SCOPES, DEFAULT_SCOPES, SYSTEM_SCOPES, create_api_key

    scopes = SYSTEM_SCOPES if system else ALL_SCOPES if admin else tuple(scope) or DEFAULT_SCOPES
    unknown = set(scopes) - set(SYSTEM_SCOPES)
    if "system" in scope and not system:
        raise typer.BadParameter("the system scope is granted with --system only")
    if unknown:
        raise typer.BadParameter(f"unknown scope(s): {', '.join(sorted(unknown))}")
    with session_scope() as session:
        row, plain = create_api_key(
            session,
            tenant=tenant,
            name=name,
            scopes=scopes,
            rate_limits=parse_rate_limits(rate_limit),  # type: ignore[arg-type]
        )
        key_id = row.id
    typer.echo(plain)
    typer.echo(f"key id {key_id}, tenant {tenant}, scopes {', '.join(sorted(scopes))}", err=True)


@app.command("list")
def list_keys(tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None) -> None:
    """List keys (ids, tenants, scopes; never secrets)."""
    from sqlalchemy import select

    from sie.core.db import session_scope
    from sie.core.models import ApiKey

    with session_scope() as session:
        query = select(ApiKey).order_by(ApiKey.created_at)
        if tenant:
            query = query.where(ApiKey.tenant == tenant)
        for key in session.scalars(query):
            state = "revoked" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.tenant}\t{','.join(key.scopes)}\t{state}\t{key.name}")


@app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="The key id (the part after 'sie_')")]) -> None:
    """Revoke a key at once."""
    from sie.core.db import session_scope
    from sie.core.security import revoke_api_key

    with session_scope() as session:
        revoked = revoke_api_key(session, key_id)
    if not revoked:
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
