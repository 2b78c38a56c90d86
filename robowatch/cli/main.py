"""Entry point of the ``robowatch`` console script."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from api.auth.errors import AuthError
from collectors.errors import CollectorError
from detection.errors import DetectionError
from maintenance.errors import MaintenanceError
from parts.errors import PartsError
from reports.errors import ReportError
from robowatch import __version__
from robowatch.cli import (
    aftersales,
    audit,
    bench,
    collect,
    db,
    detect,
    fleet,
    maintenance,
    parts,
    report,
    simulate,
    user,
)
from robowatch.cli import ticketing as ticketing_cli
from robowatch.cli.api import api as api_command
from robowatch.cli.demo import demo as demo_command
from robowatch.logs import setup_logging
from robowatch.settings import Settings
from robowatch.team import TeamError
from storage.connect import DatabaseError
from ticketing.errors import TicketingError

# Errors a user can act on: one line on stderr, exit code 2, no traceback. Anything else is a
# bug and keeps its traceback.
_USER_ERRORS: tuple[type[Exception], ...] = (
    DetectionError, TicketingError, CollectorError, DatabaseError, TeamError, TimeoutError,
    OSError, AuthError, MaintenanceError, PartsError, ReportError,
)


class _Commands(TyperGroup):
    """The root command group: a user error from any sub-command becomes one line."""

    # Any: the Context type is the one typer vendors (typer._click), not public.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _USER_ERRORS as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc


app = typer.Typer(
    cls=_Commands,
    help="robowatch: remote robot monitoring and predictive maintenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command(name="demo")(demo_command)
app.add_typer(db.app, name="db")
app.add_typer(fleet.app, name="fleet")
app.command(name="api")(api_command)
app.add_typer(bench.app, name="bench")
app.add_typer(detect.app, name="detect")
app.add_typer(collect.app, name="collect")
app.add_typer(ticketing_cli.app, name="ticketing")
app.add_typer(aftersales.app, name="aftersales")
app.command("simulate")(simulate.simulate)
app.add_typer(user.app, name="user")
app.add_typer(maintenance.app, name="maintenance")
app.add_typer(parts.app, name="parts")
app.add_typer(report.app, name="report")
app.add_typer(audit.app, name="audit")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"robowatch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING ...")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    settings = Settings()
    if log_level:
        settings.log_level = log_level
    setup_logging(settings.log_level, process=ctx.invoked_subcommand or "robowatch")
    ctx.obj = settings




def main() -> None:
    app()
