"""What intake needs to group a robot's anomalies into incidents: a per-robot lock and the
robot's open tickets with the components and kinds of their anomalies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.connect import Conn

__all__ = ["OpenTicketAnomalies", "lock_robot_intake", "open_ticket_anomalies"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenTicketAnomalies:
    ticket_id: int
    component: str
    kind: str
    grade: str
    anomaly_components: tuple[str, ...]
    anomaly_kinds: tuple[str, ...]
    last_anomaly_at: datetime | None


def lock_robot_intake(*, conn: Conn, robot_id: int) -> None:
    """Serialise intake for one robot until the transaction ends, so two workers never both
    decide that an anomaly starts a new incident."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"intake:robot:{robot_id}",))


def open_ticket_anomalies(*, conn: Conn, robot_id: int) -> list[OpenTicketAnomalies]:
    """The robot's open tickets, each with its anomalies' components, kinds and newest start."""
    rows = conn.execute(
        """SELECT t.id, t.component, t.kind, t.grade,
                  COALESCE(array_agg(DISTINCT a.component)
                           FILTER (WHERE a.id IS NOT NULL), '{}'),
                  COALESCE(array_agg(DISTINCT a.kind) FILTER (WHERE a.id IS NOT NULL), '{}'),
                  max(a.started_at)
             FROM tickets t
             LEFT JOIN anomalies a ON a.ticket_id = t.id
            WHERE t.robot_id = %s AND t.closed_at IS NULL
            GROUP BY t.id
            ORDER BY t.id""", (robot_id,)).fetchall()
    return [OpenTicketAnomalies(ticket_id=r[0], component=r[1], kind=r[2], grade=r[3],
                                anomaly_components=tuple(r[4]), anomaly_kinds=tuple(r[5]),
                                last_anomaly_at=r[6]) for r in rows]
