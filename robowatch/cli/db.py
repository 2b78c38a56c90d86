"""``robowatch db``: schema upgrade and review."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from robowatch.cli.context import settings_of
from robowatch.database import database
from storage.migrate import render_ddl

app = typer.Typer(help="Database schema: upgrade, print the DDL of either dialect.",
                  no_args_is_help=True)


@app.command()
def upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (also done at every service start)."""
    with database(settings_of(ctx), migrate=True) as url:
        typer.echo(f"schema up to date at {url}")


@app.command()
def sql(
    dialect: Annotated[
        str, typer.Option(help="timescale or postgres", case_sensitive=False)
    ] = "postgres",
) -> None:
    """Print the full DDL of one dialect, for review where that dialect cannot run."""
    d = dialect.lower()
    if d not in ("timescale", "postgres"):
        raise typer.BadParameter("must be 'timescale' or 'postgres'", param_hint="--dialect")
    chosen: Literal["timescale", "postgres"] = d  # type: ignore[assignment]
    typer.echo(render_ddl(chosen))
