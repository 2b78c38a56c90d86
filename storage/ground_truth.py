"""Fault labels: the ground truth a simulator writes, read when scoring detection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

__all__ = ["FaultLabel", "FaultLabelRow", "record_fault_labels", "list_fault_labels"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultLabel:
    run_id: str
    robot: str
    component: str
    kind: str
    onset_at: datetime
    failure_at: datetime | None = None
    ended_at: datetime | None = None
    severity: float = 1.0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultLabelRow:
    id: int
    run_id: str
    robot: str
    component: str
    kind: str
    severity: float
    onset_at: datetime
    failure_at: datetime | None
    ended_at: datetime | None
    detail: dict[str, Any]


def record_fault_labels(*, conn: psycopg.Connection, labels: Iterable[FaultLabel]) -> int:
    """Insert labels; a label already recorded for the same run is left as it is.

    Returns the number of new rows.
    """
    new = 0
    with conn.transaction():
        for lb in labels:
            row = conn.execute(
                """INSERT INTO fault_labels (run_id, robot, component, kind, severity, onset_at,
                                             failure_at, ended_at, detail)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (run_id, robot, component, kind, onset_at) DO NOTHING
                   RETURNING id""",
                (lb.run_id, lb.robot, lb.component, lb.kind, lb.severity, lb.onset_at,
                 lb.failure_at, lb.ended_at, Jsonb(lb.detail)),
            ).fetchone()
            new += row is not None
    return new


def list_fault_labels(
    *, conn: psycopg.Connection, robot: str | None = None, run_id: str | None = None,
) -> list[FaultLabelRow]:
    """Labels ordered by onset, optionally of one robot and/or one run."""
    rows = conn.execute(
        """SELECT id, run_id, robot, component, kind, severity, onset_at, failure_at, ended_at,
                  detail
           FROM fault_labels
           WHERE (%(robot)s::text IS NULL OR robot = %(robot)s)
             AND (%(run)s::text IS NULL OR run_id = %(run)s)
           ORDER BY onset_at, id""",
        {"robot": robot, "run": run_id},
    ).fetchall()
    return [FaultLabelRow(id=r[0], run_id=r[1], robot=r[2], component=r[3], kind=r[4],
                          severity=r[5], onset_at=r[6], failure_at=r[7], ended_at=r[8],
                          detail=r[9]) for r in rows]
