"""Telemetry: bulk ingest with binary COPY, and the reads detection needs.

One narrow row per point (see migration 0002): ``(time, robot_id, signal_id, value, quality)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import psycopg

__all__ = ["TelemetryRow", "QUALITY_GOOD", "QUALITY_UNCERTAIN", "QUALITY_BAD",
           "copy_rows", "copy_rows_async", "read_window", "latest_time", "count_points",
           "ensure_partitions"]

# (time, robot_id, signal_id, value, quality)
TelemetryRow: TypeAlias = tuple[datetime, int, int, float | None, int]

QUALITY_GOOD = 0
QUALITY_UNCERTAIN = 1
QUALITY_BAD = 2

_COPY = "COPY telemetry (time, robot_id, signal_id, value, quality) FROM STDIN (FORMAT BINARY)"
_TYPES = ("timestamptz", "int4", "int2", "float8", "int2")


def copy_rows(*, conn: psycopg.Connection, rows: Sequence[TelemetryRow]) -> int:
    """Load rows with one binary COPY in the caller's transaction; return the count.

    An exception inside the block aborts the COPY and the server discards the whole batch,
    so a batch is stored entirely or not at all.
    """
    with conn.cursor() as cur, cur.copy(_COPY) as copy:
        copy.set_types(_TYPES)
        for row in rows:
            copy.write_row(row)
    return len(rows)


async def copy_rows_async(*, conn: psycopg.AsyncConnection, rows: Sequence[TelemetryRow]) -> int:
    """``copy_rows`` for an async connection."""
    async with conn.cursor() as cur, cur.copy(_COPY) as copy:
        copy.set_types(_TYPES)
        for row in rows:
            await copy.write_row(row)
    return len(rows)


def read_window(
    *, conn: psycopg.Connection, after: datetime, until: datetime
) -> list[tuple[datetime, int, int, float]]:
    """Good-quality points with ``after < time <= until``, oldest first."""
    return conn.execute(  # type: ignore[return-value]
        """SELECT time, robot_id, signal_id, value FROM telemetry
           WHERE time > %s AND time <= %s AND quality = 0 AND value IS NOT NULL
           ORDER BY time""",
        (after, until),
        binary=True,
    ).fetchall()


def latest_time(*, conn: psycopg.Connection) -> datetime | None:
    row = conn.execute("SELECT max(time) FROM telemetry").fetchone()
    return row[0] if row else None


def count_points(
    *, conn: psycopg.Connection, robot_id: int | None = None, signal_id: int | None = None
) -> int:
    row = conn.execute(
        """SELECT count(*) FROM telemetry
           WHERE (%(r)s::int IS NULL OR robot_id = %(r)s) AND (%(s)s::int IS NULL OR signal_id = %(s)s)""",
        {"r": robot_id, "s": signal_id},
    ).fetchone()
    return int(row[0]) if row else 0


def ensure_partitions(*, conn: psycopg.Connection, days_back: int = 2, days_ahead: int = 7) -> int:
    """Create missing daily partitions around today (a no-op on TimescaleDB)."""
    row = conn.execute(
        "SELECT robowatch_ensure_telemetry_partitions(%s, %s)", (days_back, days_ahead)
    ).fetchone()
    return int(row[0]) if row else 0
