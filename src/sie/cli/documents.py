"""`sie ingest` and `sie demo`: documents pushed from the command line, and the bundled demo.

Imports inside the commands keep `sie --help` fast: the ingest client and the demo load only for
their own command (the demo then re-runs itself in a clean process).
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from sie.cli.logs import setup_logging

app = typer.Typer()


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def demo(ctx: typer.Context) -> None:
    """Run the whole pipeline on the bundled sample corpus, on embedded defaults (`sie demo --help`)."""
    from sie.demo.run import main

    # The demo parses its own options, in the clean process it starts for itself.
    raise typer.Exit(main(ctx.args))


@app.command()
def ingest(
    targets: Annotated[list[str], typer.Argument(help="Files, folders (recursive), feed files or URLs")],
    api_url: Annotated[
        str | None, typer.Option(envvar="SIE_API_URL", help="Send to this API (remote mode)")
    ] = None,
    api_key: Annotated[str | None, typer.Option(envvar="SIE_API_KEY", help="API key for --api-url")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant of the documents without --api-url")] = "default",
    source: Annotated[str | None, typer.Option(help="Source name recorded on every document")] = None,
    priority: Annotated[Literal["low", "normal", "high"], typer.Option(help="Queue priority")] = "normal",
    wait: Annotated[bool, typer.Option("--wait", help="Wait for every job and report statuses")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for jobs")] = 600.0,
) -> None:
    """Push documents, remotely (--api-url) or straight into the configured database and queue.

    Exit status: 0 all accepted (and done, with --wait); 1 some rejected or not done; 2 nothing sent.
    """
    from sie.ingest_client import run

    setup_logging()
    raise typer.Exit(
        run(
            targets,
            api_url=api_url,
            api_key=api_key,
            tenant=tenant,
            source=source,
            priority=priority,
            wait=wait,
            timeout=timeout,
        )
    )
