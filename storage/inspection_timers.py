"""An inspection's overdue clock in the ticket clock and timer rows (``storage.timers``), owned
by ``inspection_id`` (migration 0016): one deadline kept as rows, so a restart loses none and
fires none twice.

Only what depends on the owner is here (open a run, find an inspection's runs, claim the due
timers locked with their inspections); stamping, firing and postponing a timer or a clock by
its id are ``storage.timers``' functions and serve every owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.tickets import Conn
from storage.timers import ClockRun, NewTimer

__all__ = ["CLOCK", "DueInspectionTimer", "InspectionTimerRow", "start_inspection_clock",
           "add_inspection_timers", "open_inspection_clocks", "inspection_timers",
           "claim_due_inspection_timers"]

# The clock's name in ticket_clocks.clock.
CLOCK = "inspection"

_CLOCK_COLS = ("id, 0 AS ticket_id, clock, calendar, started_at, allowed, due_at, paused_left, "
               "warned_at, met_at, breached_at, closed_at, closed_why")


@dataclass(frozen=True, slots=True, kw_only=True)
class DueInspectionTimer:
    id: int
    inspection_id: int
    clock_id: int
    action: str
    step: int
    due_at: datetime
    detail: dict[str, Any]
    attempts: int
    allowed: timedelta
    clock_due_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectionTimerRow:
    id: int
    clock_id: int
    action: str
    step: int
    due_at: datetime | None
    detail: dict[str, Any]
    fired_at: datetime | None


def start_inspection_clock(
    *, conn: Conn, inspection_id: int, started_at: datetime, allowed: timedelta,
    due_at: datetime, timers: Sequence[NewTimer],
) -> int:
    """Open the inspection's clock run (round the clock: maintenance windows are nights and
    Sundays) with its timers; the run's id."""
    row = _one(conn, """INSERT INTO ticket_clocks (inspection_id, clock, calendar, started_at,
                                                   allowed, due_at)
                        VALUES (%s, %s, '24x7', %s, %s, %s) RETURNING id""",
               (inspection_id, CLOCK, started_at, allowed, due_at))
    assert row is not None  # INSERT ... RETURNING always yields the row
    clock_id = int(row["id"])
    add_inspection_timers(conn=conn, inspection_id=inspection_id, clock_id=clock_id,
                          timers=timers)
    return clock_id


def add_inspection_timers(*, conn: Conn, inspection_id: int, clock_id: int,
                          timers: Sequence[NewTimer]) -> None:
    if not timers:
        return
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO ticket_timers (inspection_id, clock_id, action, step, calendar,
                                          due_at, detail)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [(inspection_id, clock_id, t.action, t.step, t.calendar, t.due_at, Jsonb(t.detail))
             for t in timers])


def open_inspection_clocks(*, conn: Conn, inspection_id: int) -> list[ClockRun]:
    rows = _rows(conn, f"SELECT {_CLOCK_COLS} FROM ticket_clocks "
                       "WHERE inspection_id = %s AND closed_at IS NULL ORDER BY id",
                 (inspection_id,))
    return [ClockRun(**r) for r in rows]


def inspection_timers(*, conn: Conn, inspection_id: int) -> list[InspectionTimerRow]:
    """Every timer of the inspection, fired or not, oldest first."""
    rows = _rows(conn, """SELECT id, clock_id, action, step, due_at, detail, fired_at
                          FROM ticket_timers WHERE inspection_id = %s ORDER BY id""",
                 (inspection_id,))
    return [InspectionTimerRow(**r) for r in rows]


def claim_due_inspection_timers(*, conn: Conn, now: datetime,
                                limit: int) -> list[DueInspectionTimer]:
    """``storage.timers.claim_due`` for inspections: up to ``limit`` unfired timers due at
    ``now``, locked with their inspections ``FOR UPDATE SKIP LOCKED``, earliest first."""
    rows = _rows(conn, """
        SELECT tm.id, tm.inspection_id, tm.clock_id, tm.action, tm.step, tm.due_at, tm.detail,
               tm.attempts, c.allowed, c.due_at AS clock_due_at
        FROM ticket_timers tm
        JOIN inspections i ON i.id = tm.inspection_id
        JOIN ticket_clocks c ON c.id = tm.clock_id
        WHERE tm.fired_at IS NULL AND tm.due_at <= %s
        ORDER BY tm.due_at, tm.id
        LIMIT %s
        FOR UPDATE OF tm, i SKIP LOCKED""", (now, limit))
    return [DueInspectionTimer(**r) for r in rows]
