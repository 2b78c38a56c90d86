"""``robowatch maintenance``: the preventive maintenance plan, its work orders and calendar.

``plan`` prints a plan of the packaged demo fleet (offline, no database) over ``--horizon``
(``90d``) or, with ``--store``, plans from the database, stores the work orders, reserves their
parts and fires the inspection timers due; ``list``, ``complete``, ``cancel`` and ``ical`` work
on the stored work orders.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated

import typer

from maintenance.forecast import forecast
from maintenance.ical import entries_of_inspections, feed
from maintenance.orders import cancel as cancel_inspection
from maintenance.orders import complete as complete_inspection
from maintenance.planner import RobotInfo
from maintenance.policy import MaintenancePolicy, builtin_policy, load_policy
from maintenance.scheduler import Visit
from maintenance.service import sync
from maintenance.timers import fire_due_inspections
from robowatch.cli.context import settings_of, writable_file
from robowatch.database import database
from robowatch.team import load_team
from simulators.registry import fleet_spec
from simulators.scenario import Scenario, packaged_scenario_path
from storage.connect import connect
from storage.maintenance import InspectionRow, list_inspections
from ticketing.policy import builtin_policy as builtin_service_policy
from ticketing.roster import load_roster

app = typer.Typer(help="Preventive maintenance: plans, inspections, calendar.",
                  no_args_is_help=True)

PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", help="Maintenance policy TOML; default: the built-in one.", dir_okay=False)]
ACTOR = "maintenance:cli"


def _policy(path: Path | None) -> MaintenancePolicy:
    return load_policy(path) if path is not None else builtin_policy()


def _demo_robots(now: datetime) -> list[RobotInfo]:
    fleet = fleet_spec(Scenario.load(packaged_scenario_path("demo")))
    return [RobotInfo(code=r.code, customer=c.code, site=s.code, city=s.city or c.city,
                      brand=r.brand, model=r.model,
                      in_service_since=(datetime.combine(r.install_date, time(), UTC)
                                        if r.install_date else now))
            for c in fleet.customers for s in c.sites for ln in s.lines for r in ln.robots]


def _rows(policy: MaintenancePolicy, visits: list[Visit]) -> list[dict[str, str]]:
    return [{"window": f"{v.slot.start:%Y-%m-%d %H:%M}-{v.slot.end:%H:%M %Z}",
             "site": f"{v.customer}/{v.site}", "engineer": v.engineer or "-",
             "robot": it.robot, "plan": it.plan, "due": f"{it.due.at:%Y-%m-%d}",
             "trigger": it.due.trigger, "why": it.due.reason}
            for v in visits for it in v.items]


def _horizon_days(value: str) -> int:
    """``90d`` (or ``90``), ``12w``: the horizon in whole days, 1 to 730."""
    text = value.strip().lower()
    unit = {"d": 1, "w": 7}.get(text[-1:], 0)
    digits = text[:-1] if unit else text
    if not digits.isdigit():
        raise typer.BadParameter(f"{value!r}: give days as 90d (or weeks as 12w)",
                                 param_hint="--horizon")
    days = int(digits) * (unit or 1)
    if not 1 <= days <= 730:
        raise typer.BadParameter(f"{value!r}: 1 to 730 days", param_hint="--horizon")
    return days


@app.command()
def plan(
    ctx: typer.Context,
    horizon: Annotated[str, typer.Option(
        "--horizon", help="Horizon: 90d (days) or 12w (weeks).")] = "90d",
    days: Annotated[int | None, typer.Option(
        min=1, max=730, help="Horizon in days (the same as --horizon Nd).")] = None,
    start: Annotated[str | None, typer.Option(
        help="Start date (YYYY-MM-DD, UTC); default: today.")] = None,
    policy: PolicyOpt = None,
    roster: Annotated[Path | None, typer.Option(
        help="Roster TOML (who is on duty when); default: everyone available.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV instead of a table.")] = False,
    store: Annotated[bool, typer.Option(
        "--store", help="Plan from the database and store the work orders due soon.")] = False,
) -> None:
    """The plan over ``--horizon``: a table (or CSV) of visits, robots, plans and why."""
    days = days if days is not None else _horizon_days(horizon)
    pol = _policy(policy)
    now = (datetime.combine(date.fromisoformat(start), time(), UTC) if start
           else datetime.now(UTC))
    rota = load_roster(roster) if roster else None
    if store:
        with database(settings_of(ctx)) as url, connect(url) as conn:
            res = sync(conn=conn, policy=pol, now=now, actor=ACTOR, roster=rota)
            # The same pass the ticketing service's timer loop runs (never twice: the timers
            # are rows, claimed SKIP LOCKED).
            fired = fire_due_inspections(conn=conn, now=now,
                                         steps=builtin_service_policy().escalation.steps)
            conn.commit()
        typer.echo(f"{res.created} created, {res.rescheduled} rescheduled, {res.unplaced} "
                   f"without a window; parts reserved for {res.reserved}, short for "
                   f"{res.short}; {len(fired)} inspection timers fired")
        return
    robots = _demo_robots(now)
    visits = forecast(policy=pol, robots=robots, completions={}, states={}, start=now,
                      days=days, engineers=load_team(), roster=rota)
    rows = _rows(pol, visits)
    if as_csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["window"])
        w.writeheader()
        w.writerows(rows)
        typer.echo(buf.getvalue(), nl=False)
        return
    typer.echo(f"{'window':28} {'site':22} {'engineer':10} {'robot':10} {'plan':14} "
               f"{'due':10} {'trigger':9} why")
    for r in rows:
        typer.echo(f"{r['window']:28} {r['site']:22} {r['engineer']:10} {r['robot']:10} "
                   f"{r['plan']:14} {r['due']:10} {r['trigger']:9} {r['why']}")
    typer.echo(f"{len(visits)} visits, {len(rows)} inspections of {len(robots)} robots over "
               f"{days} days from {now:%Y-%m-%d} (demo fleet, no completion recorded yet)")


def _line(r: InspectionRow) -> str:
    window = f"{r.window_start:%Y-%m-%d %H:%M}" if r.window_start else "unplaced"
    return (f"{r.id:5} {r.state:11} {window:16} {r.robot:10} {r.plan:14} "
            f"{r.engineer or '-':10} due {r.due_at:%Y-%m-%d} {r.trigger}: {r.reason}")


@app.command("list")
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Also completed and cancelled.")] = False,
    engineer: Annotated[str | None, typer.Option()] = None,
    site: Annotated[str | None, typer.Option()] = None,
) -> None:
    """The stored work orders (open ones by default)."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        rows, total = list_inspections(conn=conn, open_only=not all_, engineer=engineer,
                                       site=site, limit=10_000)
    for r in rows:
        typer.echo(_line(r))
    typer.echo(f"{total} inspections")


@app.command()
def complete(
    ctx: typer.Context,
    inspection: Annotated[int, typer.Argument(help="Inspection id.")],
    result: Annotated[list[str], typer.Option(
        help="Checklist result ITEM=VALUE (repeat), e.g. fans=ok.")],
    finding: Annotated[list[str] | None, typer.Option(
        help="A finding (free text; repeat).")] = None,
    corrective: Annotated[bool, typer.Option(
        help="The findings need a corrective ticket (opened through an anomaly).")] = False,
    counters: Annotated[str, typer.Option(
        help='Counters read at completion, JSON: {"operating_hours": 1234}')] = "{}",
    policy: PolicyOpt = None,
) -> None:
    """Record an inspection's checklist results and findings; counters restart from now."""
    results = {}
    for item in result:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r}: give ITEM=VALUE", param_hint="--result")
        results[key.strip()] = value.strip()
    try:
        read = {k: float(v) for k, v in json.loads(counters).items()}
    except (ValueError, AttributeError) as exc:
        raise typer.BadParameter(f"not a JSON object of numbers: {exc}",
                                 param_hint="--counters") from exc
    findings = [{"note": f, "corrective": corrective} for f in finding or []]
    with database(settings_of(ctx)) as url, connect(url) as conn:
        row = complete_inspection(conn=conn, inspection_id=inspection, results=results,
                                  findings=findings, counters=read, actor=ACTOR,
                                  now=datetime.now(UTC))
        conn.commit()
    typer.echo(_line(row) + (f" (anomaly {row.anomaly_id} opened for a corrective ticket)"
                             if row.anomaly_id else ""))


@app.command()
def cancel(
    ctx: typer.Context,
    inspection: Annotated[int, typer.Argument(help="Inspection id.")],
    reason: Annotated[str, typer.Option(help="Why it is cancelled (kept in its history).")],
) -> None:
    """Cancel a work order not started yet; its reserved parts go back on the shelf."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        row = cancel_inspection(conn=conn, inspection_id=inspection, reason=reason, actor=ACTOR,
                                now=datetime.now(UTC))
        conn.commit()
    typer.echo(_line(row))


@app.command()
def ical(
    ctx: typer.Context,
    engineer: Annotated[str | None, typer.Option()] = None,
    site: Annotated[str | None, typer.Option()] = None,
    out: Annotated[Path | None, typer.Option(callback=writable_file,
                                             help="Write here instead of stdout.")] = None,
) -> None:
    """The stored work orders as an iCalendar feed (per engineer or per site)."""
    with database(settings_of(ctx)) as url, connect(url) as conn:
        rows, _ = list_inspections(conn=conn, open_only=True, engineer=engineer, site=site,
                                   limit=10_000)
    doc = feed(entries_of_inspections(rows), name=f"robowatch maintenance {engineer or site or ''}",
               stamp=datetime.now(UTC))
    if out is not None:
        out.write_bytes(doc)
    else:
        typer.echo(doc.decode())

