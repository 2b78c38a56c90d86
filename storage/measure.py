"""SQL the benchmarks measure with (the timing is theirs, in ``benchmarks/``): scratch
databases, exporting and reloading the stored telemetry, on-disk sizes of the telemetry layouts,
detection latency, and cloned open tickets for the timer benchmark. Not used by the services.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import psycopg
from psycopg import conninfo as ci

from storage.telemetry import table_bytes

__all__ = ["create_scratch_database", "drop_database", "count_telemetry", "export_telemetry",
           "empty_telemetry", "layout_bytes", "series_values_sample", "alarm_latencies",
           "clone_open_ticket", "nth_due", "dispatch_delays", "ticket_ids_like",
           "ticket_versions", "events_per_ticket"]

_EXPORT = ("COPY (SELECT time, robot_id, signal_id, value, quality FROM telemetry{limit})"
           " TO STDOUT (FORMAT BINARY)")


def create_scratch_database(*, admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url``; return its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return ci.make_conninfo(admin_url, dbname=name)


def drop_database(*, admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_telemetry(*, conn: psycopg.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM telemetry").fetchone()[0])  # type: ignore[index]


def duplicate_keys(*, conn: psycopg.Connection) -> int:
    """Rows beyond the first of each (robot, signal, time): 0 unless a duplicate got in."""
    return int(conn.execute(  # type: ignore[index]
        "SELECT count(*) - count(DISTINCT (robot_id, signal_id, time)) FROM telemetry"
    ).fetchone()[0])


def export_telemetry(*, conn: psycopg.Connection, limit: int | None = None) -> bytes:
    """The stored rows (the first ``limit``) as one binary COPY stream, ready to load again."""
    buf = bytearray()
    sql = _EXPORT.format(limit=" LIMIT %s" if limit is not None else "")
    params = (limit,) if limit is not None else None
    with conn.cursor() as cur, cur.copy(sql, params) as copy:
        for chunk in copy:
            buf += chunk
    return bytes(buf)


def empty_telemetry(*, conn: psycopg.Connection, checkpoint: bool = False) -> None:
    """Remove every stored point and commit; with ``checkpoint``, also flush the server's
    dirty pages so a following load is not charged for earlier writes."""
    conn.execute("TRUNCATE telemetry")
    conn.commit()
    if checkpoint:
        conn.execute("CHECKPOINT")


def layout_bytes(*, conn: psycopg.Connection) -> tuple[int, int, int]:
    """(points, bytes of the narrow table as stored, bytes of the same points stored one row
    per robot tick with array columns)."""
    n = count_telemetry(conn=conn)
    narrow = table_bytes(conn=conn)
    conn.execute("""CREATE TABLE bench_telemetry_wide (
                        time timestamptz NOT NULL, robot_id integer NOT NULL,
                        signal_ids smallint[] NOT NULL, value double precision[] NOT NULL,
                        quality smallint[] NOT NULL)""")
    conn.execute("""INSERT INTO bench_telemetry_wide
                    SELECT time, robot_id, array_agg(signal_id ORDER BY signal_id),
                           array_agg(value ORDER BY signal_id),
                           array_agg(quality ORDER BY signal_id)
                      FROM telemetry GROUP BY time, robot_id""")
    conn.execute("CREATE UNIQUE INDEX ON bench_telemetry_wide (robot_id, time DESC)")
    conn.commit()
    wide = table_bytes(conn=conn, table="bench_telemetry_wide")
    conn.execute("DROP TABLE bench_telemetry_wide")
    conn.commit()
    return n, narrow, wide


def series_values_sample(*, conn: psycopg.Connection, limit: int) -> list[tuple[int, int, float]]:
    """(robot_id, signal_id, value) of stored values in series order, as compression sees them."""
    return conn.execute(
        """SELECT robot_id, signal_id, value FROM telemetry WHERE value IS NOT NULL
           ORDER BY robot_id, signal_id, time LIMIT %s""", (limit,)).fetchall()


def alarm_latencies(*, conn: psycopg.Connection, alarm_code: int,
                    kind: str) -> list[tuple[int, float, float | None, float | None]]:
    """Per robot whose ``alarm_code`` signal showed ``alarm_code``: (robot id, first such
    sample time, the engine's decision time, the anomaly row's creation time), Unix seconds."""
    return conn.execute(
        """WITH first_alarm AS (
               SELECT t.robot_id, min(t.time) AS at
                 FROM telemetry t JOIN signals s ON s.id = t.signal_id
                WHERE s.name = 'alarm_code' AND t.value = %s AND t.quality = 0
                GROUP BY t.robot_id)
           SELECT f.robot_id, extract(epoch FROM f.at)::float8,
                  (a.evidence ->> 'detected_at')::float8,
                  extract(epoch FROM a.created_at)::float8
             FROM first_alarm f
             LEFT JOIN anomalies a ON a.robot_id = f.robot_id AND a.kind = %s""",
        (alarm_code, kind)).fetchall()


def clone_open_ticket(
    *, conn: psycopg.Connection, ticket_id: int, copies: int, step_s: float, tag: str
) -> int:
    """Copy an open ticket ``copies`` times with its open clocks and unfired timers, copy ``g``
    accepted ``g * step_s`` seconds after the original (every instant shifted alike); numbered
    ``{tag}-{g}``. The number of timers written."""
    shift = "make_interval(secs => g * %(step)s)"
    p = {"id": ticket_id, "n": copies, "step": step_s, "tag": tag}
    conn.execute(f"""
        INSERT INTO tickets (number, robot_id, customer_id, tier, impact, grade, component, kind,
                             title, channel, state, policy, created_at, respond_by, onsite_by,
                             plan_by, resolve_by, update_every, updated_at)
        SELECT %(tag)s || '-' || g, robot_id, customer_id, tier, impact, grade, component, kind,
               title, channel, state, policy, created_at + {shift}, respond_by + {shift},
               onsite_by + {shift}, plan_by + {shift}, resolve_by + {shift}, update_every,
               updated_at + {shift}
        FROM tickets, generate_series(1, %(n)s) g WHERE id = %(id)s""", p)
    conn.execute("""
        INSERT INTO ticket_clocks (ticket_id, clock, calendar, started_at, allowed, due_at)
        SELECT t.id, c.clock, c.calendar, c.started_at + (t.created_at - o.created_at),
               c.allowed, c.due_at + (t.created_at - o.created_at)
        FROM tickets o JOIN ticket_clocks c ON c.ticket_id = o.id AND c.closed_at IS NULL
        JOIN tickets t ON t.number LIKE %(tag)s || '-%%'
        WHERE o.id = %(id)s""", p)
    cur = conn.execute("""
        INSERT INTO ticket_timers (ticket_id, clock_id, action, step, calendar, due_at, detail)
        SELECT nc.ticket_id, nc.id, tm.action, tm.step, tm.calendar,
               tm.due_at + (t.created_at - o.created_at), tm.detail
        FROM tickets o
        JOIN ticket_clocks oc ON oc.ticket_id = o.id AND oc.closed_at IS NULL
        JOIN ticket_timers tm ON tm.clock_id = oc.id AND tm.fired_at IS NULL
        JOIN tickets t ON t.number LIKE %(tag)s || '-%%'
        JOIN ticket_clocks nc ON nc.ticket_id = t.id AND nc.clock = oc.clock
        WHERE o.id = %(id)s""", p)
    return cur.rowcount


def nth_due(*, conn: psycopg.Connection, n: int) -> datetime | None:
    """When the ``n``-th earliest unfired timer is due (None: fewer are scheduled)."""
    row = conn.execute("""SELECT due_at FROM ticket_timers WHERE fired_at IS NULL
                          ORDER BY due_at, id OFFSET %s LIMIT 1""", (n - 1,)).fetchone()
    return cast("datetime", row[0]) if row else None


def dispatch_delays(*, conn: psycopg.Connection) -> list[float]:
    """Per ticket opened from monitoring: seconds from its first anomaly's insert to the
    ticket's dispatch event."""
    rows = conn.execute(
        """SELECT extract(epoch FROM (d.at - a.created_at))::float8
             FROM tickets t
             JOIN LATERAL (SELECT min(created_at) AS created_at FROM anomalies
                            WHERE ticket_id = t.id) a ON true
             JOIN LATERAL (SELECT min(at) AS at FROM ticket_events
                            WHERE ticket_id = t.id AND event = 'dispatch') d ON true
            WHERE t.channel = 'monitoring' AND d.at IS NOT NULL""").fetchall()
    return [float(r[0]) for r in rows]


def ticket_ids_like(*, conn: psycopg.Connection, prefix: str) -> list[int]:
    """Ids of the tickets numbered ``prefix...`` (the copies ``clone_open_ticket`` made)."""
    rows = conn.execute("SELECT id FROM tickets WHERE number LIKE %s ORDER BY id",
                        (prefix + "%",)).fetchall()
    return [int(r[0]) for r in rows]


def ticket_versions(*, conn: psycopg.Connection, ids: list[int]) -> dict[int, int]:
    """Ticket id -> its current version."""
    rows = conn.execute("SELECT id, version FROM tickets WHERE id = ANY(%s)", (ids,)).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def events_per_ticket(*, conn: psycopg.Connection, event: str, actor: str) -> dict[int, int]:
    """Ticket id -> how many history rows of ``event`` by ``actor`` it holds."""
    rows = conn.execute("""SELECT ticket_id, count(*) FROM ticket_events
                           WHERE event = %s AND actor = %s GROUP BY ticket_id""",
                        (event, actor)).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}
