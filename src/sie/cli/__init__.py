"""The `sie` command (`sie = "sie.cli:app"`): this module assembles the command groups.

- `database`: migrate, reindex;
- `services`: serve, worker, relay, scheduler;
- `documents`: ingest, demo;
- `keys` (`sie api-key ...`) and `dead_letters` (`sie dead-letters ...`);
- `insights` (`sie insights rebuild`);
- `retention` (`sie retention ...`) and `archive` (`sie archive restore`).
"""

from __future__ import annotations

import typer

import sie
from sie.cli import archive, database, dead_letters, documents, insights, keys, retention, services

app = typer.Typer(help="SIE, the Smart Ingestion Engine.", no_args_is_help=True, add_completion=False)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"sie {sie.__version__}")


app.add_typer(database.app)
app.add_typer(services.app)
app.add_typer(documents.app)
app.add_typer(keys.app, name="api-key")
app.add_typer(dead_letters.app, name="dead-letters")
app.add_typer(insights.app, name="insights")
app.add_typer(retention.app, name="retention")
app.add_typer(archive.app, name="archive")
