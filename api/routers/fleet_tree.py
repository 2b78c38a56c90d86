"""``GET /api/v1/fleet/tree``: customers -> sites -> lines -> robots, each robot with its
status and each level with counts per status; ``q`` keeps the robots whose code, serial or
customer (code or name) contains it. A customer viewer gets its own customer only.

Status, in this order: ``alarm`` (an open anomaly, or the controller in protective stop),
``no_data`` (no state or J1 current sample within the console policy's ``no_data_after_s``),
``stopped`` (program state 0), ``running`` (anything else).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from api.auth import require_read
from api.console_policy import ConsolePolicy
from api.deps import ConnDep, CurrentUser, NowDep
from api.routers.telemetry import console_policy
from api.schemas import UtcDatetime
from storage.fleet_status import FleetRobotRow, fleet_robots

__all__ = ["router", "robot_status"]

router = APIRouter(prefix="/fleet", tags=["fleet"], dependencies=[require_read("robots")])

Status = Literal["running", "alarm", "stopped", "no_data"]
STATUSES: tuple[Status, ...] = ("running", "alarm", "stopped", "no_data")
_PROTECTIVE_STOP, _STOPPED = 3.0, 0.0  # docs/signals.md, program_state


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Counts(_Out):
    running: int = 0
    alarm: int = 0
    stopped: int = 0
    no_data: int = 0


class RobotNode(_Out):
    code: str
    brand: str | None
    model: str | None
    serial: str | None
    status: Status
    last_seen: UtcDatetime | None
    warranty_end: date | None
    warranty_expired: bool
    open_anomalies: int
    open_tickets: int


class LineNode(_Out):
    code: str
    name: str
    counts: Counts
    robots: list[RobotNode]


class SiteNode(_Out):
    code: str
    name: str
    city: str | None
    counts: Counts
    lines: list[LineNode]


class CustomerNode(_Out):
    code: str
    name: str
    city: str | None
    tier: str
    counts: Counts
    sites: list[SiteNode]


class FleetTree(_Out):
    counts: Counts
    customers: list[CustomerNode]


def robot_status(row: FleetRobotRow, *, now: datetime, no_data_after: timedelta) -> Status:
    if row.open_anomalies > 0 or row.program_state == _PROTECTIVE_STOP:
        return "alarm"
    if row.last_seen is None or now - row.last_seen > no_data_after:
        return "no_data"
    return "stopped" if row.program_state == _STOPPED else "running"


def _counts(statuses: list[Status]) -> Counts:
    return Counts(**{s: statuses.count(s) for s in STATUSES})


def _matches(row: FleetRobotRow, q: str) -> bool:
    needle = q.casefold()
    return any(needle in (v or "").casefold()
               for v in (row.robot, row.serial, row.customer, row.customer_name))


def _tree(rows: list[FleetRobotRow], *, now: datetime, no_data_after: timedelta) -> FleetTree:
    # Rows come ordered by customer, site, line and robot: group them in one pass.
    customers: dict[str, tuple[FleetRobotRow, dict[str, tuple[FleetRobotRow, dict[
        str, tuple[FleetRobotRow, list[RobotNode]]]]]]] = {}
    for r in rows:
        sites = customers.setdefault(r.customer, (r, {}))[1]
        lines = sites.setdefault(r.site, (r, {}))[1]
        robots = lines.setdefault(r.line, (r, []))[1]
        robots.append(RobotNode(
            code=r.robot, brand=r.brand, model=r.model, serial=r.serial,
            status=robot_status(r, now=now, no_data_after=no_data_after),
            last_seen=r.last_seen, warranty_end=r.warranty_end,
            warranty_expired=r.warranty_end is not None and r.warranty_end < now.date(),
            open_anomalies=r.open_anomalies, open_tickets=r.open_tickets))
    out: list[CustomerNode] = []
    every: list[Status] = []
    for c, sites in customers.values():
        site_nodes = []
        for s, lines in sites.values():
            line_nodes = [LineNode(code=ln.line, name=ln.line_name,
                                   counts=_counts([x.status for x in robots]), robots=robots)
                          for ln, robots in lines.values()]
            statuses = [x.status for ln in line_nodes for x in ln.robots]
            site_nodes.append(SiteNode(code=s.site, name=s.site_name, city=s.site_city,
                                       counts=_counts(statuses), lines=line_nodes))
        statuses = [x.status for s in site_nodes for ln in s.lines for x in ln.robots]
        every += statuses
        out.append(CustomerNode(code=c.customer, name=c.customer_name, city=c.customer_city,
                                tier=c.tier, counts=_counts(statuses), sites=site_nodes))
    return FleetTree(counts=_counts(every), customers=out)


@router.get("/tree")
def tree(
    caller: CurrentUser, now: NowDep, conn: ConnDep,
    policy: Annotated[ConsolePolicy, Depends(console_policy)],
    q: Annotated[str | None, Query(max_length=64, description="Robot code, serial or customer "
                                   "(code or name), any part, any case")] = None,
) -> FleetTree:
    rows = fleet_robots(conn=conn, customer=caller.customer)
    if q and q.strip():
        rows = [r for r in rows if _matches(r, q.strip())]
    return _tree(rows, now=now, no_data_after=timedelta(seconds=policy.fleet.no_data_after_s))
