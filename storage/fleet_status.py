"""The fleet as the console's tree shows it: every robot with where it stands and what it
last reported, and the people's names behind engineer codes.

A robot's last report is read from the series index (``robot_id, signal_id, time DESC``)
one signal at a time (``LIMIT 1``), never by scanning recent telemetry: the tree's cost grows
with the number of robots, not with the ingest rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg

__all__ = ["FleetRobotRow", "EngineerName", "fleet_robots", "engineer_names",
           "STATE_SIGNAL", "PRESENCE_SIGNALS"]

# docs/signals.md: 0 stopped, 1 moving, 2 waiting, 3 protective stop.
STATE_SIGNAL = "program_state"
# Signals every controller sends on every sample; the newest of them is "last seen".
PRESENCE_SIGNALS = (STATE_SIGNAL, "J1.current")


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetRobotRow:
    customer: str
    customer_name: str
    customer_city: str | None
    tier: str
    site: str
    site_name: str
    site_city: str | None
    line: str
    line_name: str
    robot: str
    brand: str | None
    model: str | None
    serial: str | None
    warranty_end: date | None
    last_seen: datetime | None
    program_state: float | None
    open_anomalies: int
    open_tickets: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineerName:
    code: str
    name: str
    role: str
    city: str | None


_TREE = """
    SELECT c.code, c.name, c.city, c.tier, s.code, s.name, s.city, l.code, l.name,
           r.code, r.brand, r.model, r.serial, r.warranty_end,
           seen.time, st.value,
           (SELECT count(*) FROM anomalies a WHERE a.robot_id = r.id AND a.ended_at IS NULL),
           (SELECT count(*) FROM tickets t WHERE t.robot_id = r.id AND t.closed_at IS NULL)
      FROM robots r
      JOIN lines l ON l.id = r.line_id
      JOIN sites s ON s.id = l.site_id
      JOIN customers c ON c.id = s.customer_id
      LEFT JOIN LATERAL (
           SELECT max(last.time) AS time
             FROM signals g
            CROSS JOIN LATERAL (SELECT time FROM telemetry
                                 WHERE robot_id = r.id AND signal_id = g.id
                                 ORDER BY time DESC LIMIT 1) last
            WHERE g.name = ANY(%(presence)s)) seen ON true
      LEFT JOIN LATERAL (
           SELECT value FROM telemetry
            WHERE robot_id = r.id
              AND signal_id = (SELECT id FROM signals WHERE name = %(state)s)
            ORDER BY time DESC LIMIT 1) st ON true
     WHERE %(customer)s::text IS NULL OR c.code = %(customer)s
     ORDER BY c.name, s.name, l.name, r.code
"""


def fleet_robots(*, conn: psycopg.Connection, customer: str | None = None) -> list[FleetRobotRow]:
    """Every robot (of ``customer`` when given) with its place, last report and open counts."""
    rows = conn.execute(_TREE, {"presence": list(PRESENCE_SIGNALS), "state": STATE_SIGNAL,
                                "customer": customer}).fetchall()
    return [FleetRobotRow(
        customer=r[0], customer_name=r[1], customer_city=r[2], tier=r[3], site=r[4],
        site_name=r[5], site_city=r[6], line=r[7], line_name=r[8], robot=r[9], brand=r[10],
        model=r[11], serial=r[12], warranty_end=r[13], last_seen=r[14], program_state=r[15],
        open_anomalies=int(r[16]), open_tickets=int(r[17])) for r in rows]


def engineer_names(*, conn: psycopg.Connection) -> list[EngineerName]:
    """The service team by code, for showing names where rows carry codes."""
    return [EngineerName(code=r[0], name=r[1], role=r[2], city=r[3])
            for r in conn.execute("SELECT code, name, role, city FROM engineers ORDER BY code")]
