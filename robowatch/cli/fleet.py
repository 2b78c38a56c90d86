"""``robowatch fleet``: register customers, sites, lines, robots and the service team."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from robowatch.cli.context import settings_of
from robowatch.database import database
from robowatch.team import DEMO_ROSTER, load_team
from simulators.registry import fleet_spec
from simulators.scenario import Scenario, ScenarioError, packaged_scenario_path
from storage.connect import connect
from storage.fleet import FleetSpec, list_robots, register_fleet
from ticketing.duty import put_roster_in_force

app = typer.Typer(help="Fleet registry: customers, sites, lines, robots, engineers.",
                  no_args_is_help=True)


@app.command()
def load(
    ctx: typer.Context,
    scenario: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, help="Fleet description (scenario TOML).")] = None,
    packaged: Annotated[str | None, typer.Option(
        help="A scenario shipped with robowatch instead: demo or bench.")] = None,
    team: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                              help="Engineers TOML (default: none).")] = None,
) -> None:
    """Insert or update the fleet of a scenario (matched by code; safe to repeat)."""
    if (scenario is None) == (packaged is None):
        raise typer.BadParameter("give exactly one of --scenario and --packaged")
    try:
        path = scenario if scenario is not None else packaged_scenario_path(packaged or "")
        fleet = fleet_spec(Scenario.load(path))
    except ScenarioError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from exc
    # The packaged demo comes with its demo team, so its tickets can be dispatched.
    people = load_team(team) if team else (load_team() if packaged == "demo" else ())
    with database(settings_of(ctx)) as url, connect(url) as conn:
        ids = register_fleet(conn=conn,
                             fleet=FleetSpec(customers=fleet.customers, engineers=people))
        if packaged == "demo" and not team:
            put_roster_in_force(conn=conn, roster=DEMO_ROSTER)  # and who of it is on duty
        conn.commit()
    typer.echo(f"registered {len(ids)} robots and {len(people)} engineers")


@app.command("list")
def list_(ctx: typer.Context, customer: Annotated[str | None, typer.Option()] = None) -> None:
    """Print the registered robots."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        robots, total = list_robots(conn=conn, customer=customer, limit=10_000)
    for r in robots:
        typer.echo(f"{r.code:12} {r.customer:12} {r.tier:10} {r.site}/{r.line}  "
                   f"{r.brand or ''} {r.model or ''}")
    typer.echo(f"{total} robots")
