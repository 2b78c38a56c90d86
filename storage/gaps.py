"""Data gaps: intervals where a source was unreachable, so a silence is not read as a flat line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from storage.connect import connect

__all__ = ["GapRow", "open_gap", "close_gap", "record_gap_start", "record_gap_end",
           "list_gaps"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GapRow:
    id: int
    source: str
    origin: str
    robot_id: int | None
    started_at: datetime
    ended_at: datetime | None
    reason: str | None


def open_gap(
    *, conn: psycopg.Connection, source: str, origin: str, started_at: datetime,
    reason: str | None = None, robot_id: int | None = None,
) -> int:
    row = conn.execute(
        """INSERT INTO data_gaps (source, origin, robot_id, started_at, reason)
           VALUES (%s, %s, %s, %s, %s) RETURNING id""",
        (source, origin, robot_id, started_at, reason),
    ).fetchone()
    return int(row[0])  # type: ignore[index]


def close_gap(*, conn: psycopg.Connection, gap_id: int, ended_at: datetime) -> None:
    conn.execute("UPDATE data_gaps SET ended_at = %s WHERE id = %s", (ended_at, gap_id))


def record_gap_start(
    conninfo: str, *, source: str, origin: str, started_at: datetime, reason: str | None = None,
    robot_id: int | None = None,
) -> int:
    """``open_gap`` on a connection of its own, committed: for a collector whose source just
    went away (its writer's connection is busy with data)."""
    with connect(conninfo) as conn:
        gap_id = open_gap(conn=conn, source=source, origin=origin, started_at=started_at,
                          reason=reason, robot_id=robot_id)
        conn.commit()
        return gap_id


def record_gap_end(conninfo: str, *, gap_id: int, ended_at: datetime) -> None:
    """``close_gap`` on a connection of its own, committed."""
    with connect(conninfo) as conn:
        close_gap(conn=conn, gap_id=gap_id, ended_at=ended_at)
        conn.commit()


def list_gaps(*, conn: psycopg.Connection, origin: str | None = None) -> list[GapRow]:
    rows = conn.execute(
        """SELECT id, source, origin, robot_id, started_at, ended_at, reason FROM data_gaps
           WHERE %(o)s::text IS NULL OR origin = %(o)s ORDER BY started_at""",
        {"o": origin},
    ).fetchall()
    return [GapRow(id=r[0], source=r[1], origin=r[2], robot_id=r[3], started_at=r[4],
                   ended_at=r[5], reason=r[6]) for r in rows]
