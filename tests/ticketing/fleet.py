"""A small fleet for the ticketing DB tests: one robot per customer tier, plus engineers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from storage import tickets as store
from storage.anomalies import NewAnomaly, open_anomaly
from storage.fleet import (
    CustomerSpec,
    EngineerSpec,
    FleetSpec,
    LineSpec,
    RobotSpec,
    SiteSpec,
    register_fleet,
)
from storage.tickets import TicketRow, get_ticket
from ticketing.duty import put_roster_in_force, round_the_clock
from ticketing.events import apply
from ticketing.policy import Policy
from ticketing.timers import run_timers

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def _customer(code: str, tier: str, robots: tuple[str, ...], city: str = "Suzhou") -> CustomerSpec:
    return CustomerSpec(
        code=code, name=f"{code} Ltd", tier=tier, city=city,
        sites=(SiteSpec(code="S1", name="Plant 1", city=city, lines=(
            LineSpec(code="L1", name="Line 1",
                     robots=tuple(RobotSpec(code=r, brand="ABB", model="IRB6700")
                                  for r in robots)),)),),
    )


FLEET = FleetSpec(
    customers=(
        _customer("CORE1", "core", ("R-C1", "R-C1b")),
        _customer("CORE2", "core", ("R-C2",)),
        _customer("IMP1", "important", ("R-I1",)),
        _customer("ORD1", "ordinary", ("R-O1",)),
    ),
    engineers=(
        EngineerSpec(code="M-01", name="Manager", role="manager", city="Suzhou"),
        EngineerSpec(code="M-02", name="Deputy manager", role="manager", city="Wuxi"),
        EngineerSpec(code="E-01", name="Field 1", city="Suzhou", skills=("ABB", "overheating")),
        EngineerSpec(code="E-02", name="Field 2", city="Wuxi", skills=("KUKA",)),
    ),
)
# Everyone on duty all the time, unless a test puts another roster in force.
ALWAYS = round_the_clock({"manager": ("M-01", "M-02"), "engineer": ("E-01", "E-02")})


def register(db_url: str) -> dict[str, int]:
    """Register the fleet and put the round-the-clock roster in force."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = register_fleet(conn=conn, fleet=FLEET)
        put_roster_in_force(conn=conn, roster=ALWAYS)
        return ids


def anomaly(
    db_url: str, robot_id: int, *, kind: str = "overheating", component: str = "J3",
    impact: str = "core-module", close: bool = False, started_at: datetime = T0,
    evidence: dict[str, Any] | None = None,
) -> int:
    """Insert an open anomaly (and close it right away when ``close``, so another of the same
    key can follow, as detection's hysteresis would)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        aid = open_anomaly(conn=conn, anomaly=NewAnomaly(
            robot_id=robot_id, component=component, kind=kind, detector="threshold",
            impact=impact, started_at=started_at, score=3.5,
            signals=(f"{component}.temperature",), evidence=evidence or {}))
        assert aid is not None
        if close:
            conn.execute("UPDATE anomalies SET ended_at = %s WHERE id = %s", (T0, aid))
    return aid


def act(conn: Any, ticket_id: int, event: str, at: datetime, *, policy: Policy,
        actor: str = "eng:E-01", **details: Any) -> TicketRow:
    """Apply ``event`` as a person would: naming the version they last saw."""
    seen = get_ticket(conn=conn, ticket_id=ticket_id)
    return apply(conn=conn, ticket_id=ticket_id, event=event, actor=actor,
                 expected_version=seen.version if seen else None, now=at, policy=policy,
                 **details)


async def timer_loop_lifetime(
    db_url: str, policy: Policy, now: list[datetime], until: datetime,
    next_due: Callable[[store.Conn], datetime | None],
) -> None:
    """One lifetime of the service's timer loop (``run_timers``) over the clock ``now[0]``,
    moved to ``until``: it ends once ``next_due`` (read from the database) lies after it."""
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.create_task(run_timers(conninfo=db_url, policy=policy, stop=stop, wake=wake,
                                          clock=lambda: now[0]))
    now[0] = until
    wake.set()
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        with psycopg.connect(db_url, autocommit=True) as c:
            nxt = next_due(c)
        if nxt is None or nxt > until:
            break
        assert asyncio.get_running_loop().time() < deadline, "timers not fired in time"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, timeout=10)
