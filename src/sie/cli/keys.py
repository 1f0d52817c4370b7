"""`sie api-key create|list|update|revoke`: API keys, straight in the configured database.

Imports inside the commands keep `sie --help` fast: SQLAlchemy and the key code load only when a
key command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from sie.core.models import ApiKey

app = typer.Typer(help="Create, list, update and revoke API keys.", no_args_is_help=True)

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
            if min(limits[priority].values()) < 1:
                raise ValueError(rule)
        except ValueError:
            raise typer.BadParameter(
                f"expected PRIORITY=REQUESTS/SECONDS with PRIORITY one of {', '.join(PRIORITIES)} and"
                f" positive numbers (e.g. normal=600/60), got {value!r}"
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


LIST_COLUMNS = ("KEY ID", "TENANT", "SCOPES", "STATE", "RATE LIMITS", "CREATED", "LAST USED", "NAME")


@app.command("list")
def list_keys(tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None) -> None:
    """List keys, tab-separated under a header: limits, creation and last use (to the minute, UTC);
    never secrets."""
    from sqlalchemy import select

    from sie.core.db import session_scope
    from sie.core.models import ApiKey

    typer.echo("\t".join(LIST_COLUMNS))
    with session_scope() as session:
        query = select(ApiKey).order_by(ApiKey.created_at)
        if tenant:
            query = query.where(ApiKey.tenant == tenant)
        for key in session.scalars(query):
            typer.echo("\t".join(_key_row(key)))


def _key_row(key: ApiKey) -> tuple[str, ...]:
    state = "revoked" if key.revoked_at else "active"
    return (
        key.id,
        key.tenant,
        ",".join(key.scopes),
        state,
        _limits_text(key.rate_limits),
        _minute(key.created_at),
        _minute(key.last_used_at) if key.last_used_at else "never",
        key.name,
    )


def _limits_text(limits: dict[str, dict[str, int]] | None) -> str:
    """`normal=600/60,high=1200/60`, as `--rate-limit` takes them; `default` for the handbook's."""
    if not limits:
        return "default"
    return ",".join(f"{p}={limits[p]['requests']}/{limits[p]['period']}" for p in PRIORITIES if p in limits)


def _minute(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%MZ}"


@app.command("update")
def update_key(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after 'sie_')")],
    rate_limit: Annotated[
        list[str],
        typer.Option(
            help="Set a limit: PRIORITY=REQUESTS/SECONDS (repeatable); other priorities keep theirs"
        ),
    ] = [],  # noqa: B006
    default_rate_limits: Annotated[
        bool, typer.Option("--default-rate-limits", help="Drop the key's own limits: the defaults apply")
    ] = False,
) -> None:
    """Change a key's rate limits in place; its next request is counted against them."""
    from sie.core.db import session_scope
    from sie.core.security import set_rate_limits

    limits = parse_rate_limits(rate_limit)
    if bool(limits) == default_rate_limits:
        raise typer.BadParameter(
            "give either --rate-limit PRIORITY=REQUESTS/SECONDS (repeatable) or --default-rate-limits"
        )
    with session_scope() as session:
        row = set_rate_limits(session, key_id, limits)
        updated = _limits_text(row.rate_limits) if row is not None else None
    if updated is None:
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"updated {key_id}: rate limits {updated}")


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
