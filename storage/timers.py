"""Ticket clocks and their timers: the rows ``ticketing`` keeps so that no deadline is lost in
a restart and none fires twice.

A clock row is one run of one clock of a ticket (its deadline, met or breached). A timer row is
one thing a clock will do at ``due_at`` (warn, breach, re-dispatch, escalate); firing sets
``fired_at`` in the same transaction as the history row it writes. ``claim_due`` locks due
timers with their tickets ``FOR UPDATE SKIP LOCKED``, so two ticketing processes never take
the same one, and reads them through the partial index on unfired ``due_at``: a pass costs
what is due, not what is open.

Calendar arithmetic stays in ``ticketing``: functions here store the instants it computed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from psycopg.types.json import Jsonb

from storage.connect import DatabaseError, first_line, usable
from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.tickets import Conn

__all__ = ["ClockRun", "TimerRow", "NewTimer", "DueTimer", "DueFeedbackTimer", "start_clock",
           "begin_clocks", "NewClock",
           "clocks_of", "open_clocks", "latest_clock", "get_clock", "close_clock",
           "set_clock_due", "mark_warned", "mark_breached", "unfired_timers", "set_timer_due",
           "claim_due", "claim_due_feedback", "mark_fired", "postpone", "next_due", "timers_of",
           "add_timers", "Firing", "fire_batch", "fire_each"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockRun:
    """One run of a clock of a ticket, or (``ticket_id`` 0) of a feedback record."""

    id: int
    ticket_id: int
    clock: str
    calendar: str
    started_at: datetime
    allowed: timedelta
    due_at: datetime | None
    paused_left: timedelta | None
    warned_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None
    closed_at: datetime | None
    closed_why: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTimer:
    action: str
    due_at: datetime
    calendar: str
    step: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewClock:
    """A clock run to open, with its timers (``begin_clocks``)."""

    clock: str
    calendar: str
    started_at: datetime
    allowed: timedelta
    due_at: datetime
    timers: tuple[NewTimer, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerRow:
    """A timer of a ticket's clock, or (``ticket_id`` 0) of a feedback record's."""

    id: int
    ticket_id: int
    clock_id: int
    action: str
    step: int
    calendar: str
    due_at: datetime | None
    paused_left: timedelta | None
    detail: dict[str, Any]
    attempts: int
    fired_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DueTimer:
    id: int
    ticket_id: int
    clock_id: int
    clock: str
    action: str
    step: int
    due_at: datetime
    detail: dict[str, Any]
    attempts: int
    ticket_number: str = ""
    ticket_state: str = ""             # as locked by the claim
    allowed: timedelta = timedelta(0)  # the clock run's allowed time


@dataclass(frozen=True, slots=True, kw_only=True)
class Firing:
    """A timer fired with others in a batch: a warning, a plain breach (both only record) or
    a step of the escalation ladder (which also raises the ticket's escalation level)."""

    timer_id: int
    clock_id: int
    ticket_id: int
    action: str                 # "warn", "breach" or "escalate"
    due_at: datetime
    event: str                  # the history row it writes
    state: str                  # the ticket's state, kept by the row
    data: dict[str, Any]
    level: int = 0              # an escalation's ladder step


# A feedback record's clocks read ticket_id 0: the rows are the same, only their owner differs.
_CLOCK_COLS = ("id, COALESCE(ticket_id, 0) AS ticket_id, clock, calendar, started_at, allowed, "
               "due_at, paused_left, warned_at, met_at, breached_at, closed_at, closed_why")
_TIMER_COLS = ("id, COALESCE(ticket_id, 0) AS ticket_id, clock_id, action, step, calendar, "
               "due_at, paused_left, detail, attempts, fired_at")


def _owner(ticket_id: int, feedback_id: int | None) -> tuple[str, int]:
    """The column and id that own a clock or timer: a ticket, or a feedback record."""
    if feedback_id is not None:
        return "feedback_id", feedback_id
    if ticket_id <= 0:
        raise ValueError("a clock belongs to a ticket or to a feedback record")
    return "ticket_id", ticket_id


def start_clock(
    *, conn: Conn, ticket_id: int = 0, clock: str, calendar: str, started_at: datetime,
    allowed: timedelta, due_at: datetime, timers: Sequence[NewTimer] = (),
    feedback_id: int | None = None,
) -> int:
    """Open a clock run with its timers, for a ticket or (``feedback_id``) a feedback record;
    the clock's id."""
    [run] = begin_clocks(conn=conn, ticket_id=ticket_id, feedback_id=feedback_id, runs=[
        NewClock(clock=clock, calendar=calendar, started_at=started_at, allowed=allowed,
                 due_at=due_at, timers=tuple(timers))])
    return run.id


def begin_clocks(
    *, conn: Conn, ticket_id: int = 0, runs: Sequence[NewClock], feedback_id: int | None = None,
) -> list[ClockRun]:
    """Open several clock runs of one owner (different clocks) with their timers, in one
    statement: one round trip where a ticket's intake opened six clocks with three each. The
    new runs, in the order of ``runs``."""
    if not runs:
        return []
    names = [r.clock for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"one run per clock at a time, got {names}")
    col, owner = _owner(ticket_id, feedback_id)
    timers = [(r.clock, t) for r in runs for t in r.timers]
    rows = _rows(conn, f"""
        WITH c AS (INSERT INTO ticket_clocks ({col}, clock, calendar, started_at, allowed,
                                              due_at)
                   SELECT %s, u.clock, u.calendar, u.started_at, u.allowed, u.due_at
                   FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::interval[],
                               %s::timestamptz[]) WITH ORDINALITY
                           AS u(clock, calendar, started_at, allowed, due_at, n)
                   ORDER BY u.n
                   RETURNING *),
             tm AS (INSERT INTO ticket_timers ({col}, clock_id, action, step, calendar, due_at,
                                               detail)
                    SELECT %s, c.id, v.action, v.step, v.calendar, v.due_at, v.detail
                    FROM unnest(%s::text[], %s::text[], %s::smallint[], %s::text[],
                                %s::timestamptz[], %s::jsonb[]) WITH ORDINALITY
                            AS v(clock, action, step, calendar, due_at, detail, n)
                    JOIN c ON c.clock = v.clock
                    ORDER BY v.n)
        SELECT {_CLOCK_COLS} FROM c""",
                 (owner, names, [r.calendar for r in runs], [r.started_at for r in runs],
                  [r.allowed for r in runs], [r.due_at for r in runs], owner,
                  [c for c, _ in timers], [t.action for _, t in timers],
                  [t.step for _, t in timers], [t.calendar for _, t in timers],
                  [t.due_at for _, t in timers], [Jsonb(t.detail) for _, t in timers]))
    made = {r["clock"]: ClockRun(**r) for r in rows}
    return [made[n] for n in names]


def add_timers(
    *, conn: Conn, ticket_id: int = 0, clock_id: int, timers: Sequence[NewTimer],
    feedback_id: int | None = None,
) -> None:
    if not timers:
        return
    col, owner = _owner(ticket_id, feedback_id)
    with conn.cursor() as cur:
        cur.executemany(
            f"""INSERT INTO ticket_timers ({col}, clock_id, action, step, calendar, due_at,
                                           detail)
                VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [(owner, clock_id, t.action, t.step, t.calendar, t.due_at, Jsonb(t.detail))
             for t in timers])


def clocks_of(*, conn: Conn, ticket_id: int = 0, feedback_id: int | None = None) -> list[ClockRun]:
    """Every clock run of a ticket (or a feedback record), oldest first."""
    col, owner = _owner(ticket_id, feedback_id)
    rows = _rows(conn, f"SELECT {_CLOCK_COLS} FROM ticket_clocks WHERE {col} = %s ORDER BY id",
                 (owner,))
    return [ClockRun(**r) for r in rows]


def open_clocks(
    *, conn: Conn, ticket_id: int = 0, feedback_id: int | None = None
) -> list[ClockRun]:
    col, owner = _owner(ticket_id, feedback_id)
    rows = _rows(conn, f"SELECT {_CLOCK_COLS} FROM ticket_clocks "
                       f"WHERE {col} = %s AND closed_at IS NULL ORDER BY id", (owner,))
    return [ClockRun(**r) for r in rows]


def latest_clock(*, conn: Conn, ticket_id: int, clock: str) -> ClockRun | None:
    """The most recent run of ``clock`` on the ticket, open or closed."""
    r = _one(conn, f"SELECT {_CLOCK_COLS} FROM ticket_clocks WHERE ticket_id = %s AND clock = %s "
                   "ORDER BY id DESC LIMIT 1", (ticket_id, clock))
    return ClockRun(**r) if r else None


def get_clock(*, conn: Conn, clock_id: int) -> ClockRun | None:
    r = _one(conn, f"SELECT {_CLOCK_COLS} FROM ticket_clocks WHERE id = %s", (clock_id,))
    return ClockRun(**r) if r else None


def close_clock(
    *, conn: Conn, clock_id: int, at: datetime, why: str, drop_due_timers: bool = True
) -> None:
    """Stop a clock run (``why``: met, replaced, reassigned, refused, moot, cancelled) and drop
    its unfired timers. ``drop_due_timers=False`` keeps those already due at ``at``: they
    happened before the clock stopped and still fire."""
    conn.execute("""UPDATE ticket_clocks SET closed_at = %s, closed_why = %s,
                        met_at = CASE WHEN %s = 'met' THEN %s ELSE met_at END
                    WHERE id = %s AND closed_at IS NULL""", (at, why, why, at, clock_id))
    if drop_due_timers:
        conn.execute("DELETE FROM ticket_timers WHERE clock_id = %s AND fired_at IS NULL",
                     (clock_id,))
    else:
        conn.execute("""DELETE FROM ticket_timers WHERE clock_id = %s AND fired_at IS NULL
                        AND (due_at IS NULL OR due_at > %s)""", (clock_id, at))


def set_clock_due(
    *, conn: Conn, clock_id: int, due_at: datetime | None, paused_left: timedelta | None
) -> None:
    conn.execute("UPDATE ticket_clocks SET due_at = %s, paused_left = %s WHERE id = %s",
                 (due_at, paused_left, clock_id))


def mark_warned(*, conn: Conn, clock_id: int, at: datetime) -> None:
    conn.execute("UPDATE ticket_clocks SET warned_at = COALESCE(warned_at, %s) WHERE id = %s",
                 (at, clock_id))


def mark_breached(*, conn: Conn, clock_id: int, at: datetime) -> None:
    conn.execute("UPDATE ticket_clocks SET breached_at = COALESCE(breached_at, %s) WHERE id = %s",
                 (at, clock_id))


def unfired_timers(*, conn: Conn, ticket_id: int) -> list[TimerRow]:
    rows = _rows(conn, f"SELECT {_TIMER_COLS} FROM ticket_timers "
                       "WHERE ticket_id = %s AND fired_at IS NULL ORDER BY id", (ticket_id,))
    return [TimerRow(**r) for r in rows]


def timers_of(*, conn: Conn, ticket_id: int = 0, feedback_id: int | None = None) -> list[TimerRow]:
    """Every timer of a ticket (or a feedback record), fired or not, oldest first."""
    col, owner = _owner(ticket_id, feedback_id)
    rows = _rows(conn, f"SELECT {_TIMER_COLS} FROM ticket_timers WHERE {col} = %s ORDER BY id",
                 (owner,))
    return [TimerRow(**r) for r in rows]


def set_timer_due(
    *, conn: Conn, moves: Sequence[tuple[int, datetime | None, timedelta | None]]
) -> None:
    """Move timers: ``(timer id, due_at, paused_left)``; a paused timer has no ``due_at``."""
    if not moves:
        return
    with conn.cursor() as cur:
        cur.executemany("UPDATE ticket_timers SET due_at = %s, paused_left = %s WHERE id = %s",
                        [(due, left, tid) for tid, due, left in moves])


def claim_due(*, conn: Conn, now: datetime, limit: int) -> list[DueTimer]:
    """Lock up to ``limit`` unfired timers due at ``now`` and their tickets, earliest first,
    skipping any another process holds. Call inside a transaction; the locks last until it
    ends."""
    rows = _rows(conn, """
        SELECT tm.id, tm.ticket_id, tm.clock_id, c.clock, tm.action, tm.step, tm.due_at,
               tm.detail, tm.attempts, t.number AS ticket_number, t.state AS ticket_state,
               c.allowed
        FROM ticket_timers tm
        JOIN tickets t ON t.id = tm.ticket_id
        JOIN ticket_clocks c ON c.id = tm.clock_id
        WHERE tm.fired_at IS NULL AND tm.due_at <= %s
        ORDER BY tm.due_at, tm.id
        LIMIT %s
        FOR UPDATE OF tm, t SKIP LOCKED""", (now, limit))
    return [DueTimer(**r) for r in rows]


def fire_batch(*, conn: Conn, at: datetime, actor: str, firings: Sequence[Firing]) -> None:
    """Fire warnings, plain breaches and escalations together, a statement per table for the
    whole set: mark them fired, stamp their clocks, raise the escalated tickets' level (one
    version per escalation, as one transition each would) and append their history rows (by
    ``actor``, in the order given), in the caller's transaction. ``LookupError`` (nothing
    kept) if one had fired already."""
    if not firings:
        return
    ids = [f.timer_id for f in firings]
    with conn.transaction():
        marked = _rows(conn, "UPDATE ticket_timers SET fired_at = %s "
                             "WHERE id = ANY(%s) AND fired_at IS NULL RETURNING id", (at, ids))
        if len(marked) != len(ids):
            raise LookupError(f"{len(ids) - len(marked)} of {len(ids)} timers fired meanwhile")
        warned = [f.clock_id for f in firings if f.action == "warn"]
        conn.execute("UPDATE ticket_clocks SET warned_at = COALESCE(warned_at, %s) "
                     "WHERE id = ANY(%s)", (at, warned))
        breached = [f for f in firings if f.action == "breach"]
        conn.execute("""UPDATE ticket_clocks c SET breached_at = COALESCE(c.breached_at, u.due)
                        FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(id, due)
                        WHERE c.id = u.id""",
                     ([f.clock_id for f in breached], [f.due_at for f in breached]))
        escalated = [f for f in firings if f.action == "escalate"]
        if escalated:
            # Grouped per ticket: an UPDATE ... FROM updates a row once, whatever its matches.
            conn.execute("""UPDATE tickets t
                            SET escalation = GREATEST(t.escalation, u.level),
                                version = t.version + u.n, updated_at = %s
                            FROM (SELECT id, max(level) AS level, count(*) AS n
                                  FROM unnest(%s::bigint[], %s::integer[]) AS x(id, level)
                                  GROUP BY id) u
                            WHERE t.id = u.id""",
                         (at, [f.ticket_id for f in escalated], [f.level for f in escalated]))
        # The rows as one JSON document, not four arrays: psycopg quotes each element of a
        # text or jsonb array in Python (0.13 s of a 0.47 s pass of 1,000 timers, cProfile),
        # one json.dumps of the list is C.
        conn.execute("""INSERT INTO ticket_events (ticket_id, at, event, actor, from_state,
                                                   to_state, data)
                        SELECT (u.r->>'t')::bigint, %s, u.r->>'e', %s, u.r->>'s', u.r->>'s',
                               u.r->'d'
                        FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS u(r, n)
                        ORDER BY u.n""",
                     (at, actor, Jsonb([{"t": f.ticket_id, "e": f.event, "s": f.state,
                                         "d": f.data} for f in firings])))


@dataclass(frozen=True, slots=True, kw_only=True)
class DueFeedbackTimer:
    id: int
    feedback_id: int
    clock_id: int
    clock: str
    action: str
    step: int
    due_at: datetime
    detail: dict[str, Any]
    attempts: int


def claim_due_feedback(*, conn: Conn, now: datetime, limit: int) -> list[DueFeedbackTimer]:
    """``claim_due`` for the timers of feedback records: locked with their records."""
    rows = _rows(conn, """
        SELECT tm.id, tm.feedback_id, tm.clock_id, c.clock, tm.action, tm.step, tm.due_at,
               tm.detail, tm.attempts
        FROM ticket_timers tm
        JOIN feedback f ON f.id = tm.feedback_id
        JOIN ticket_clocks c ON c.id = tm.clock_id
        WHERE tm.fired_at IS NULL AND tm.due_at <= %s
        ORDER BY tm.due_at, tm.id
        LIMIT %s
        FOR UPDATE OF tm, f SKIP LOCKED""", (now, limit))
    return [DueFeedbackTimer(**r) for r in rows]


def mark_fired(*, conn: Conn, timer_id: int, at: datetime) -> bool:
    """Record that a timer fired; False if it had already (nothing is written then)."""
    r = _one(conn, "UPDATE ticket_timers SET fired_at = %s WHERE id = %s AND fired_at IS NULL "
                   "RETURNING id", (at, timer_id))
    return r is not None


def postpone(*, conn: Conn, timer_id: int, until: datetime) -> None:
    """A timer that failed to fire is tried again at ``until``."""
    conn.execute("UPDATE ticket_timers SET due_at = %s, attempts = attempts + 1 WHERE id = %s",
                 (until, timer_id))


def next_due(*, conn: Conn) -> datetime | None:
    """When the earliest unfired timer is due (None: nothing is scheduled)."""
    r = _one(conn, "SELECT min(due_at) AS at FROM ticket_timers WHERE fired_at IS NULL")
    return r["at"] if r else None


class _Due(Protocol):
    @property
    def id(self) -> int: ...


D = TypeVar("D", bound=_Due)
T = TypeVar("T")


def fire_each(
    *, conn: Conn, due: Sequence[D], now: datetime, fire: Callable[[D], T],
    errors: tuple[type[Exception], ...], describe: Callable[[D], str], log: logging.Logger,
    retry_after: timedelta,
) -> list[T]:
    """Fire claimed timers one by one, each in a savepoint: marked fired first (a repeat is
    refused), then ``fire``. One that raises ``errors`` (or a lookup, value or database error
    while the connection stays usable) is logged with ``describe`` and postponed by
    ``retry_after``, and costs the others nothing; what fired, in order. Any owner's timers
    (feedback records, inspections) use it."""
    fired: list[T] = []
    caught: tuple[type[Exception], ...] = (*errors, LookupError, ValueError, DatabaseError)
    for d in due:
        try:
            with conn.transaction():  # a savepoint: a failure undoes only this timer
                if not mark_fired(conn=conn, timer_id=d.id, at=now):
                    raise LookupError(f"timer {d.id} fired meanwhile")
                fired.append(fire(d))
        except caught as exc:
            if not usable(conn):
                raise
            log.error("%s failed, retried in %s: %s", describe(d), retry_after,
                      first_line(exc))
            postpone(conn=conn, timer_id=d.id, until=now + retry_after)
    return fired
