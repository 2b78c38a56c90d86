"""``bench ticketing``: what one timer pass (``ticketing.timers.fire_due``) costs.

A scratch database holds ``tickets`` open tickets with all their clocks and timers (one real
ticket per grade opened through ``ticketing.events``, then cloned, each copy accepted a little
later, so the timers of the fleet are spread over the following days). The clock then moves
forward just far enough that ``K`` timers are due, and one pass fires them; repeated ``repeat``
times per ``K``. The pass reads the due timers through the partial index on unfired
``due_at``: its cost should follow ``K``, not the number of open tickets, which the run with
fewer tickets shows. The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.ingest import prepared_database
from storage.anomalies import NewAnomaly, open_anomaly
from storage.connect import connect
from storage.fleet import (
    CustomerSpec,
    EngineerSpec,
    FleetSpec,
    LineSpec,
    RobotSpec,
    SiteSpec,
    robot_ids,
)
from storage.measure import clone_open_ticket, dispatch_delays, nth_due
from ticketing.duty import put_roster_in_force, round_the_clock
from ticketing.events import create_manual_ticket
from ticketing.policy import builtin_policy
from ticketing.service import run_ticketing
from ticketing.timers import fire_due

log = logging.getLogger(__name__)

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
_IMPACTS = {"I": "stoppage", "II": "core-module", "III": "non-core", "IV": "minor"}


def _fleet() -> FleetSpec:
    robots = tuple(RobotSpec(code=f"R-{g}", brand="ABB", model="IRB6700") for g in _IMPACTS)
    return FleetSpec(
        customers=(CustomerSpec(code="CORE1", name="Core Ltd", tier="core", city="Suzhou",
                                sites=(SiteSpec(code="S1", name="Plant", city="Suzhou", lines=(
                                    LineSpec(code="L1", name="Line 1", robots=robots),)),)),),
        engineers=(EngineerSpec(code="M-01", name="Manager", role="manager"),
                   EngineerSpec(code="E-01", name="Engineer")))


def _on_duty_always(url: str, fleet: FleetSpec) -> None:
    """Everyone of ``fleet`` on duty all the time: the benchmarks measure dispatch, not rota."""
    people: dict[str, tuple[str, ...]] = {}
    for e in fleet.engineers:
        people[e.role] = (*people.get(e.role, ()), e.code)
    with connect(url, autocommit=True) as conn:
        put_roster_in_force(conn=conn, roster=round_the_clock(people))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _seed(url: str, tickets: int) -> int:
    """Open one ticket per grade, clone each to ``tickets`` in all; the timers written."""
    policy = builtin_policy("default")
    per_grade = tickets // len(_IMPACTS)
    # Copies accepted this far apart spread the fleet's first timers over about a day.
    step_s = 86_400 / per_grade
    written = 0
    with connect(url, autocommit=True) as conn:
        for grade, impact in _IMPACTS.items():
            t = create_manual_ticket(conn=conn, robot=f"R-{grade}", channel="phone",
                                     reporter="bench", description="benchmark ticket",
                                     impact=impact, request=None, actor="bench", now=T0,
                                     policy=policy)
            assert t.grade == grade
            with conn.transaction():
                written += clone_open_ticket(conn=conn, ticket_id=t.id, copies=per_grade - 1,
                                             step_s=step_s, tag=f"B{grade}")
        conn.execute("VACUUM ANALYZE ticket_timers")
        conn.execute("VACUUM ANALYZE tickets")
        conn.execute("VACUUM ANALYZE ticket_clocks")
    return written


def _passes(url: str, due: int, repeat: int) -> list[float]:
    """Seconds of ``repeat`` passes, each with exactly ``due`` timers due."""
    policy = builtin_policy("default")
    times = []
    with connect(url, autocommit=True) as conn:
        for _ in range(repeat):
            now = nth_due(conn=conn, n=due)
            if now is None:
                raise RuntimeError(f"fewer than {due} timers left to fire")
            t0 = time.perf_counter()
            fired = fire_due(conn=conn, now=now, policy=policy, limit=due)
            times.append(time.perf_counter() - t0)
            # Timers due at the very same instant as the K-th may make a few more due.
            if len(fired) < due:
                raise RuntimeError(f"pass fired {len(fired)} of {due} due timers")
    return times


def _intake_fleet(robots: int) -> FleetSpec:
    codes = tuple(RobotSpec(code=f"R-{i:04d}", brand="ABB", model="IRB6700")
                  for i in range(robots))
    return FleetSpec(
        customers=(CustomerSpec(code="CORE1", name="Core Ltd", tier="core", city="Suzhou",
                                sites=(SiteSpec(code="S1", name="Plant", city="Suzhou", lines=(
                                    LineSpec(code="L1", name="Line 1", robots=codes),)),)),),
        engineers=(EngineerSpec(code="M-01", name="Manager", role="manager"),
                   EngineerSpec(code="M-02", name="Manager 2", role="manager"),
                   EngineerSpec(code="E-01", name="Engineer", skills=("ABB", "temperature_high")),
                   EngineerSpec(code="E-02", name="Engineer 2")))


async def _feed_anomalies(url: str, robots: dict[str, int], count: int, gap_s: float) -> None:
    """Store ``count`` anomalies on distinct robots while the real service runs, ``gap_s``
    apart, as detection would (one transaction each)."""
    impacts = ("core-module", "non-core", "minor", "stoppage")
    ids = sorted(robots.values())
    for i in range(count):
        with connect(url, autocommit=True) as conn:
            open_anomaly(conn=conn, anomaly=NewAnomaly(
                robot_id=ids[i % len(ids)], component=f"J{1 + i // len(ids) % 6}",
                kind="temperature_high", detector="bench", impact=impacts[i % len(impacts)],
                started_at=datetime.now(UTC), score=4.0, signals=("J1.temperature",)))
        await asyncio.sleep(gap_s)


def _anomaly_to_dispatch(settings_url: str | None, *, count: int, gap_s: float) -> list[float]:
    """Seconds from each anomaly's commit to its ticket's dispatch event, through the real
    ticketing service (NOTIFY wake-up, intake, grading, dispatch) on a scratch database."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rw-bench-t2-")))
        fleet = _intake_fleet(count)
        url, _, _ = prepared_database(stack, settings_url, tmp, fleet)
        _on_duty_always(url, fleet)
        with connect(url, autocommit=True) as conn:
            robots = robot_ids(conn=conn)

        async def scenario() -> None:
            stop = asyncio.Event()
            service = asyncio.create_task(run_ticketing(
                conninfo=url, policy=builtin_policy("default"), stop=stop, sweep_every=30.0))
            await asyncio.sleep(2.0)  # listening, first (empty) sweep done
            await _feed_anomalies(url, robots, count, gap_s)
            await asyncio.sleep(2.0)
            stop.set()
            await service

        asyncio.run(scenario())
        with connect(url, autocommit=True) as conn:
            return dispatch_delays(conn=conn)


def run_ticketing_bench(
    *, tickets: int = 100_000, due: tuple[int, ...] = (10, 100, 1000), repeat: int = 20,
    settings_url: str | None = None, anomalies: int = 100, anomaly_gap_s: float = 0.2,
) -> dict[str, Any]:
    """Seed ``tickets`` open tickets in a scratch database and time timer passes; then time
    ``anomalies`` anomalies from storage to dispatch through the real service."""
    delays = _anomaly_to_dispatch(settings_url, count=anomalies, gap_s=anomaly_gap_s)
    intake = {"anomalies": anomalies, "dispatched": len(delays),
              "anomaly_to_dispatch_p50_s": round(_pct(delays, 0.5), 4) if delays else None,
              "anomaly_to_dispatch_p99_s": round(_pct(delays, 0.99), 4) if delays else None}
    log.info("anomaly -> dispatch: %s", intake)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rw-bench-t-")))
        url, _, _ = prepared_database(stack, settings_url, tmp, _fleet())
        _on_duty_always(url, _fleet())
        t0 = time.perf_counter()
        timers = _seed(url, tickets)
        seeded_s = time.perf_counter() - t0
        report: dict[str, Any] = {"tickets": tickets, "timers": timers,
                                  "seed_s": round(seeded_s, 1), "repeat": repeat, "passes": {},
                                  **intake}
        for k in due:
            secs = _passes(url, k, repeat)
            report["passes"][str(k)] = {
                "p50_ms": round(_pct(secs, 0.5) * 1000, 1),
                "p99_ms": round(_pct(secs, 0.99) * 1000, 1),
                "per_timer_ms": round(_pct(secs, 0.5) * 1000 / k, 3)}
            log.info("K=%d: %s", k, report["passes"][str(k)])
    return report
