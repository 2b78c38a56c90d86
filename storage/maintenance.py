"""Inspection work orders, their history, and component health: written by ``maintenance``
(health also by whoever estimates it), read by the API.

The lifecycle rules live in ``maintenance.lifecycle``; functions here store what it allowed,
each in the caller's transaction when one is open. Rows come back as frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.tickets import Conn

__all__ = ["NewInspection", "InspectionRow", "InspectionEventRow", "HealthRow", "CounterRow",
           "open_inspection", "insert_inspection", "update_inspection", "add_inspection_event",
           "list_inspections", "get_inspection", "inspection_events", "last_completions",
           "record_health", "health_since", "open_anomaly_health", "counter_readings",
           "inspections_to_reserve", "set_parts_reservation", "get_inspection_event",
           "INSPECTION_COLUMNS"]

# Columns an event may change besides state and version; anything else is refused so a typo
# cannot write an arbitrary column.
INSPECTION_COLUMNS = frozenset({
    "due_at", "trigger", "reason", "condition", "moved_from", "window_start", "window_end",
    "engineer", "parts", "results", "findings", "counters", "anomaly_id", "escalated_at",
    "completed_at"})
_JSON = frozenset({"condition", "parts", "results", "findings", "counters"})


@dataclass(frozen=True, slots=True, kw_only=True)
class NewInspection:
    robot_id: int
    plan: str
    due_at: datetime
    trigger: str
    reason: str
    condition: dict[str, Any] | None = None
    moved_from: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    engineer: str | None = None
    parts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectionRow:
    id: int
    robot_id: int
    robot: str
    customer: str
    site: str
    city: str | None
    plan: str
    state: str
    due_at: datetime
    trigger: str
    reason: str
    condition: dict[str, Any] | None
    moved_from: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    engineer: str | None
    parts: list[dict[str, Any]]
    results: dict[str, Any] | None
    findings: list[dict[str, Any]]
    counters: dict[str, float]
    anomaly_id: int | None
    escalated_at: datetime | None
    completed_at: datetime | None
    version: int
    created_at: datetime
    # The parts reservation: the warehouse and when (None: not reserved), or the shortage
    # that stopped it.
    parts_warehouse: str | None = None
    parts_reserved_at: datetime | None = None
    parts_shortage: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectionEventRow:
    id: int
    inspection_id: int
    event: str
    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthRow:
    robot: str
    component: str
    kind: str
    at: datetime
    indicator: float
    health: float
    rul_s: float | None
    rul_low_s: float | None
    rul_high_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterRow:
    robot: str
    counter: str
    at: datetime
    value: float


_SELECT = """
    SELECT i.id, i.robot_id, r.code AS robot, c.code AS customer, s.code AS site, s.city,
           i.plan, i.state, i.due_at, i.trigger, i.reason, i.condition, i.moved_from,
           i.window_start, i.window_end, i.engineer, i.parts, i.results, i.findings, i.counters,
           i.anomaly_id, i.escalated_at, i.completed_at, i.version, i.created_at,
           i.parts_warehouse, i.parts_reserved_at, i.parts_shortage
    FROM inspections i
    JOIN robots r ON r.id = i.robot_id
    JOIN lines l ON l.id = r.line_id
    JOIN sites s ON s.id = l.site_id
    JOIN customers c ON c.id = s.customer_id
"""
_OPEN = "('planned', 'scheduled', 'in_progress')"
_KEYS = tuple(f.name for f in fields(InspectionRow))


def _row(r: dict[str, Any]) -> InspectionRow:
    return InspectionRow(**{k: r[k] for k in _KEYS})


def open_inspection(*, conn: Conn, robot_id: int, plan: str) -> InspectionRow | None:
    """The open work order of a robot's plan, locked for update."""
    r = _one(conn, f"{_SELECT} WHERE i.robot_id = %s AND i.plan = %s AND i.state IN {_OPEN} "
                   "FOR UPDATE OF i", (robot_id, plan))
    return _row(r) if r else None


def insert_inspection(*, conn: Conn, new: NewInspection, state: str) -> int:
    r = _one(conn, """
        INSERT INTO inspections (robot_id, plan, state, due_at, trigger, reason, condition,
                                 moved_from, window_start, window_end, engineer, parts)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
             (new.robot_id, new.plan, state, new.due_at, new.trigger, new.reason,
              Jsonb(new.condition) if new.condition is not None else None, new.moved_from,
              new.window_start, new.window_end, new.engineer, Jsonb(list(new.parts))))
    return int(r["id"])  # type: ignore[index]


def update_inspection(*, conn: Conn, inspection_id: int, expected_version: int, state: str,
                      **columns: Any) -> bool:
    """Set ``state`` and ``columns`` if the row is still at ``expected_version``; False when
    someone changed it meanwhile."""
    bad = set(columns) - INSPECTION_COLUMNS
    if bad:
        raise ValueError(f"not an inspection column an event may set: {sorted(bad)}")
    sets = ", ".join(f"{c} = %({c})s" for c in columns)
    params = {c: Jsonb(v) if c in _JSON and v is not None else v for c, v in columns.items()}
    r = _one(conn, f"""UPDATE inspections SET state = %(state)s, version = version + 1
                       {', ' + sets if sets else ''}
                       WHERE id = %(id)s AND version = %(version)s RETURNING id""",
             {**params, "state": state, "id": inspection_id, "version": expected_version})
    return r is not None


def add_inspection_event(*, conn: Conn, inspection_id: int, event: str, from_state: str | None,
                         to_state: str, actor: str, at: datetime,
                         data: dict[str, Any] | None = None) -> None:
    conn.execute("""INSERT INTO inspection_events (inspection_id, event, from_state, to_state,
                                                   actor, at, data)
                    VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                 (inspection_id, event, from_state, to_state, actor, at, Jsonb(data or {})))


def list_inspections(
    *, conn: Conn, open_only: bool = False, state: str | None = None, robot: str | None = None,
    customer: str | None = None, site: str | None = None, engineer: str | None = None,
    limit: int = 500, offset: int = 0,
) -> tuple[list[InspectionRow], int]:
    """By window (unplaced last), then due date; and the total matching count."""
    where = ["TRUE"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for col, value in (("i.state", state), ("r.code", robot), ("c.code", customer),
                       ("s.code", site), ("i.engineer", engineer)):
        if value is not None:
            key = col.split(".")[1]
            where.append(f"{col} = %({key})s")
            params[key] = value
    if open_only:
        where.append(f"i.state IN {_OPEN}")
    cond = " AND ".join(where)
    rows = _rows(conn, f"{_SELECT} WHERE {cond} ORDER BY i.window_start NULLS LAST, i.due_at, "
                       "i.id LIMIT %(limit)s OFFSET %(offset)s", params)
    total = _one(conn, f"SELECT count(*) AS n FROM ({_SELECT} WHERE {cond}) t", params)
    return [_row(r) for r in rows], int(total["n"]) if total else 0


def get_inspection(*, conn: Conn, inspection_id: int, lock: bool = False) -> InspectionRow | None:
    r = _one(conn, f"{_SELECT} WHERE i.id = %s{' FOR UPDATE OF i' if lock else ''}",
             (inspection_id,))
    return _row(r) if r else None


def inspection_events(*, conn: Conn, inspection_id: int) -> list[InspectionEventRow]:
    rows = _rows(conn, """SELECT id, inspection_id, event, from_state, to_state, actor, at, data
                          FROM inspection_events WHERE inspection_id = %s ORDER BY id""",
                 (inspection_id,))
    return [InspectionEventRow(**r) for r in rows]


def last_completions(*, conn: Conn) -> dict[tuple[str, str], tuple[datetime, dict[str, float]]]:
    """(robot code, plan) -> when it was last completed and the counters then."""
    rows = _rows(conn, """
        SELECT DISTINCT ON (i.robot_id, i.plan) r.code AS robot, i.plan, i.completed_at,
               i.counters
        FROM inspections i JOIN robots r ON r.id = i.robot_id
        WHERE i.state = 'completed'
        ORDER BY i.robot_id, i.plan, i.completed_at DESC""")
    return {(r["robot"], r["plan"]): (r["completed_at"], r["counters"]) for r in rows}


def record_health(*, conn: Conn, robot_id: int, component: str, kind: str, at: datetime,
                  indicator: float, health: float, rul_s: float | None,
                  rul_low_s: float | None, rul_high_s: float | None) -> None:
    """Append one health / RUL estimate (a repeat of the same instant is ignored)."""
    conn.execute("""INSERT INTO component_health (robot_id, component, kind, at, indicator,
                                                  health, rul_s, rul_low_s, rul_high_s)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                 (robot_id, component, kind, at, indicator, health, rul_s, rul_low_s,
                  rul_high_s))


def health_since(*, conn: Conn, since: datetime) -> list[HealthRow]:
    """Estimates after ``since``, oldest first per robot and component."""
    rows = _rows(conn, """
        SELECT r.code AS robot, h.component, h.kind, h.at, h.indicator, h.health, h.rul_s,
               h.rul_low_s, h.rul_high_s
        FROM component_health h JOIN robots r ON r.id = h.robot_id
        WHERE h.at > %s ORDER BY r.code, h.component, h.at""", (since,))
    return [HealthRow(**r) for r in rows]


def open_anomaly_health(*, conn: Conn) -> list[HealthRow]:
    """The latest estimate detection keeps in each open anomaly's evidence (``health``)."""
    rows = _rows(conn, """
        SELECT r.code AS robot, a.component, a.kind,
               to_timestamp((a.evidence->'health'->>'at')::double precision) AS at,
               (a.evidence->'health'->>'indicator')::double precision AS indicator,
               (a.evidence->'health'->>'health')::double precision AS health,
               (a.evidence->'health'->>'rul_s')::double precision AS rul_s,
               (a.evidence->'health'->>'rul_low_s')::double precision AS rul_low_s,
               (a.evidence->'health'->>'rul_high_s')::double precision AS rul_high_s
        FROM anomalies a JOIN robots r ON r.id = a.robot_id
        WHERE a.ended_at IS NULL AND a.evidence ? 'health'
        ORDER BY r.code, a.component""")
    return [HealthRow(**r) for r in rows]


def counter_readings(*, conn: Conn, counters: Sequence[str], since: datetime,
                     until: datetime) -> list[CounterRow]:
    """The first and last good reading of each robot's ``counters`` in ``(since, until]``:
    enough for the counter's value now and its rate."""
    rows = _rows(conn, """
        WITH pts AS (
            SELECT t.robot_id, t.signal_id, t.time, t.value,
                   row_number() OVER (PARTITION BY t.robot_id, t.signal_id ORDER BY t.time)
                       AS first_n,
                   row_number() OVER (PARTITION BY t.robot_id, t.signal_id
                                      ORDER BY t.time DESC) AS last_n
            FROM telemetry t JOIN signals g ON g.id = t.signal_id
            WHERE g.name = ANY(%s) AND t.time > %s AND t.time <= %s AND t.quality = 0
              AND t.value IS NOT NULL)
        SELECT r.code AS robot, g.name AS counter, p.time AS at, p.value
        FROM pts p JOIN robots r ON r.id = p.robot_id JOIN signals g ON g.id = p.signal_id
        WHERE p.first_n = 1 OR p.last_n = 1
        ORDER BY r.code, g.name, p.time""", (list(counters), since, until))
    return [CounterRow(**r) for r in rows]


def inspections_to_reserve(*, conn: Conn, window_before: datetime) -> list[InspectionRow]:
    """Open, not yet started work orders that need parts, are not reserved and are placed in
    a window starting before ``window_before``; locked ``SKIP LOCKED`` so two planners never
    reserve the same kit."""
    rows = _rows(conn, f"{_SELECT} WHERE i.state IN ('planned', 'scheduled') "
                       "AND i.parts_reserved_at IS NULL AND i.parts <> '[]'::jsonb "
                       "AND i.window_start < %s ORDER BY i.window_start, i.id "
                       "FOR UPDATE OF i SKIP LOCKED", (window_before,))
    return [_row(r) for r in rows]


def set_parts_reservation(*, conn: Conn, inspection_id: int, warehouse: str | None,
                          reserved_at: datetime | None, shortage: str | None) -> None:
    """Record the kit's reservation (or its shortage, or that it was released: all None).
    Not a lifecycle event: the version is not bumped."""
    conn.execute("""UPDATE inspections SET parts_warehouse = %s, parts_reserved_at = %s,
                        parts_shortage = %s WHERE id = %s""",
                 (warehouse, reserved_at, shortage, inspection_id))


def get_inspection_event(*, conn: Conn, event_id: int) -> InspectionEventRow | None:
    r = _one(conn, """SELECT id, inspection_id, event, from_state, to_state, actor, at, data
                      FROM inspection_events WHERE id = %s""", (event_id,))
    return InspectionEventRow(**r) if r else None
