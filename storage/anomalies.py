"""Anomalies: written by detection, read by ticketing and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from storage.listing import order_by, where_all

__all__ = ["NewAnomaly", "AnomalyRow", "open_anomaly", "close_anomaly", "open_anomaly_keys",
           "close_open_anomalies",
           "list_anomalies", "ANOMALY_SORTS", "get_anomaly", "update_open_anomaly_evidence",
           "acknowledge_anomaly", "IMPACT_CLASSES"]

IMPACT_CLASSES = ("stoppage", "core-module", "non-core", "minor")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAnomaly:
    robot_id: int
    component: str
    kind: str
    detector: str
    impact: str
    started_at: datetime
    score: float | None = None
    signals: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.impact not in IMPACT_CLASSES:
            raise ValueError(f"impact must be one of {IMPACT_CLASSES}, got {self.impact!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyRow:
    id: int
    robot_id: int
    robot: str
    customer: str
    component: str
    kind: str
    signals: list[str]
    detector: str
    score: float | None
    impact: str
    started_at: datetime
    ended_at: datetime | None
    evidence: dict[str, Any]
    ticket_id: int | None
    created_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


def open_anomaly(*, conn: psycopg.Connection, anomaly: NewAnomaly) -> int | None:
    """Record a new open anomaly; ``None`` if one of that robot+component+kind is already open."""
    row = conn.execute(
        """INSERT INTO anomalies (robot_id, component, kind, signals, detector, score, impact,
                                  started_at, evidence)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (robot_id, component, kind) WHERE ended_at IS NULL DO NOTHING
           RETURNING id""",
        (anomaly.robot_id, anomaly.component, anomaly.kind, list(anomaly.signals),
         anomaly.detector, anomaly.score, anomaly.impact, anomaly.started_at,
         Jsonb(anomaly.evidence)),
    ).fetchone()
    return int(row[0]) if row else None


def close_anomaly(
    *, conn: psycopg.Connection, robot_id: int, component: str, kind: str, ended_at: datetime
) -> int | None:
    row = conn.execute(
        """UPDATE anomalies SET ended_at = %s
           WHERE robot_id = %s AND component = %s AND kind = %s AND ended_at IS NULL
           RETURNING id""",
        (ended_at, robot_id, component, kind),
    ).fetchone()
    return int(row[0]) if row else None


def close_open_anomalies(*, conn: psycopg.Connection, ended_at: datetime) -> int:
    """End every open anomaly at ``ended_at`` (a demo starting its story afresh); how many."""
    rows = conn.execute("UPDATE anomalies SET ended_at = %s WHERE ended_at IS NULL RETURNING id",
                        (ended_at,)).fetchall()
    return len(rows)


def open_anomaly_keys(*, conn: psycopg.Connection) -> set[tuple[int, str, str]]:
    """(robot_id, component, kind) of every open anomaly: lets a restarted engine resume."""
    rows = conn.execute(
        "SELECT robot_id, component, kind FROM anomalies WHERE ended_at IS NULL"
    ).fetchall()
    return {(r[0], r[1], r[2]) for r in rows}


_SELECT = """
    SELECT a.id, a.robot_id, r.code, c.code, a.component, a.kind, a.signals, a.detector,
           a.score, a.impact, a.started_at, a.ended_at, a.evidence, a.ticket_id, a.created_at,
           a.acknowledged_at, a.acknowledged_by
    FROM anomalies a
    JOIN robots r ON r.id = a.robot_id
    JOIN lines l ON l.id = r.line_id
    JOIN sites s ON s.id = l.site_id
    JOIN customers c ON c.id = s.customer_id
"""


def _row(r: tuple[Any, ...]) -> AnomalyRow:
    return AnomalyRow(
        id=r[0], robot_id=r[1], robot=r[2], customer=r[3], component=r[4], kind=r[5],
        signals=list(r[6]), detector=r[7], score=r[8], impact=r[9], started_at=r[10],
        ended_at=r[11], evidence=r[12], ticket_id=r[13], created_at=r[14],
        acknowledged_at=r[15], acknowledged_by=r[16],
    )


ANOMALY_SORTS = {"started_at": "a.started_at", "created_at": "a.created_at",
                 "score": "a.score", "robot": "r.code", "impact": "a.impact"}
_COUNT = """SELECT count(*) FROM anomalies a JOIN robots r ON r.id = a.robot_id
            JOIN lines l ON l.id = r.line_id JOIN sites s ON s.id = l.site_id
            JOIN customers c ON c.id = s.customer_id"""


def list_anomalies(
    *,
    conn: psycopg.Connection,
    robot: str | None = None,
    customer: str | None = None,
    open_only: bool = False,
    impact: str | None = None,
    component: str | None = None,
    kind: str | None = None,
    ticket_id: int | None = None,
    sort: str = "-started_at",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AnomalyRow], int]:
    """One page (newest first by default; ``sort`` is a key of :data:`ANOMALY_SORTS`,
    ``-key`` descending) and the total matching count. Codes match case-insensitively."""
    cond, params = where_all([
        ("robot", "lower(r.code) = lower(%(robot)s)", robot),
        ("customer", "lower(c.code) = lower(%(customer)s)", customer),
        ("open", "a.ended_at IS NULL", True if open_only else None),
        ("impact", "a.impact = %(impact)s", impact),
        ("component", "lower(a.component) = lower(%(component)s)", component),
        ("kind", "lower(a.kind) = lower(%(kind)s)", kind),
        ("ticket_id", "a.ticket_id = %(ticket_id)s", ticket_id),
    ])
    rows = conn.execute(
        f"{_SELECT} WHERE {cond} {order_by(sort, ANOMALY_SORTS, tiebreak='a.id DESC')} "
        "LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    total = conn.execute(f"{_COUNT} WHERE {cond}", params).fetchone()
    return [_row(r) for r in rows], int(total[0])  # type: ignore[index]


def get_anomaly(*, conn: psycopg.Connection, anomaly_id: int) -> AnomalyRow | None:
    r = conn.execute(f"{_SELECT} WHERE a.id = %s", (anomaly_id,)).fetchone()
    return _row(r) if r else None


def update_open_anomaly_evidence(
    *, conn: psycopg.Connection, robot_id: int, component: str, kind: str,
    evidence: dict[str, Any],
) -> int | None:
    """Merge ``evidence`` keys into the open anomaly of robot + component + kind (e.g. the
    latest health index and remaining useful life); ``None`` when none is open."""
    row = conn.execute(
        """UPDATE anomalies SET evidence = evidence || %s
           WHERE robot_id = %s AND component = %s AND kind = %s AND ended_at IS NULL
           RETURNING id""",
        (Jsonb(evidence), robot_id, component, kind),
    ).fetchone()
    return int(row[0]) if row else None


def acknowledge_anomaly(
    *, conn: psycopg.Connection, anomaly_id: int, by: str, at: datetime
) -> AnomalyRow | None:
    """Record that ``by`` took in the anomaly at ``at`` (the alert wall's acknowledgement).
    The first acknowledgement stands: a second one leaves the row as it is, so two walls
    acknowledging at once agree on who was first. ``None`` when there is no such anomaly."""
    conn.execute(
        """UPDATE anomalies SET acknowledged_at = %s, acknowledged_by = %s
           WHERE id = %s AND acknowledged_at IS NULL""",
        (at, by, anomaly_id),
    )
    return get_anomaly(conn=conn, anomaly_id=anomaly_id)
