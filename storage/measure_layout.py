"""SQL of ``bench layout`` (benchmarks/ingest_layout.py): the narrow telemetry table against a
wide one, one row per robot tick, on the same points. Not used by the services.

The wide table is the candidate layout of issue 15, with what the narrow one can say kept
sayable: ``signal_ids[i]`` names ``value[i]`` (a tick carries only the signals it has, so
sparse signals cost nothing), a NULL element is a value without a reading, and ``quality`` is
NULL when every value of the tick is good, else one code per element.

Each wide query returns what its narrow counterpart in ``storage.telemetry``,
``storage.detector_models`` or ``storage.downsample`` returns (the narrow side runs those very
queries), so the benchmark times the same answer both ways.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import psycopg

from storage.detector_models import training_points
from storage.downsample import _BINNED, _DATE_BIN, _RAW
from storage.telemetry import _PG_EPOCH_US, PointBatch

__all__ = ["create_wide", "drop_wide", "encode_wide_copy", "copy_wide", "read_points_wide",
           "read_ticks_wide", "training_narrow", "training_wide", "chart_raw", "chart_binned",
           "wide_arrays_sample", "summarize_brin", "WIDE_TABLE"]

WIDE_TABLE = "bench_telemetry_wide"

_CREATE_WIDE = f"""
    CREATE TABLE {WIDE_TABLE} (
        time       timestamptz        NOT NULL,
        robot_id   integer            NOT NULL,
        signal_ids smallint[]         NOT NULL,
        value      double precision[] NOT NULL,
        quality    smallint[]
    )"""
_INDEXES_WIDE = (f"CREATE UNIQUE INDEX ON {WIDE_TABLE} (robot_id, time DESC)",
                 f"CREATE INDEX ON {WIDE_TABLE} USING brin (time)")


def create_wide(*, conn: psycopg.Connection) -> None:
    """The wide table with the same kind of keys as the narrow one (a unique btree on the
    series key, BRIN on time)."""
    conn.execute(f"DROP TABLE IF EXISTS {WIDE_TABLE}")
    conn.execute(_CREATE_WIDE)
    for sql in _INDEXES_WIDE:
        conn.execute(sql)
    conn.commit()


def summarize_brin(*, conn: psycopg.Connection) -> int:
    """Summarize the unsummarized ranges of every BRIN index (what VACUUM, or autosummarize
    shortly after a range fills, does); returns the ranges summarized. Until then a BRIN
    scan reads every page of those ranges."""
    rows = conn.execute(
        """SELECT brin_summarize_new_values(c.oid::regclass)
             FROM pg_class c JOIN pg_am a ON a.oid = c.relam
            WHERE a.amname = 'brin' AND c.relkind = 'i'""").fetchall()
    conn.commit()
    return sum(int(r[0]) for r in rows)


def drop_wide(*, conn: psycopg.Connection) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {WIDE_TABLE}")
    conn.commit()


_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_INT2_OID, _FLOAT8_OID = 21, 701


def _wide_row(n_signals: int) -> np.dtype:
    # A binary COPY tuple of the wide table for ticks of n_signals values, quality NULL.
    # An array is: ndim, has-nulls flag, element type, then (size, lower bound) per
    # dimension, then (length, bytes) per element; everything big-endian.
    arr = [("ndim", ">i4"), ("nulls", ">i4"), ("oid", ">i4"), ("dim", ">i4"), ("lb", ">i4")]
    return np.dtype([("n", ">i2"), ("lt", ">i4"), ("t", ">i8"), ("lr", ">i4"), ("r", ">i4"),
                     ("ls", ">i4"), ("sh", arr), ("s", [("l", ">i4"), ("v", ">i2")], (n_signals,)),
                     ("lv", ">i4"), ("vh", arr), ("v", [("l", ">i4"), ("v", ">f8")], (n_signals,)),
                     ("lq", ">i4")])


def encode_wide_copy(*, time_us: np.ndarray, robot_id: np.ndarray, signal_ids: np.ndarray,
                     values: np.ndarray) -> bytes:
    """Ticks of good values as one binary COPY stream for the wide table: ``time_us`` and
    ``robot_id`` (n,), the same ``signal_ids`` (k,) for every tick, ``values`` (n, k)."""
    n, k = values.shape
    a = np.empty(n, dtype=_wide_row(k))
    a["n"] = 5
    a["lt"], a["lr"], a["lq"] = 8, 4, -1
    a["t"] = time_us - _PG_EPOCH_US
    a["r"] = robot_id
    a["ls"], a["lv"] = 20 + 6 * k, 20 + 12 * k
    for head, oid in (("sh", _INT2_OID), ("vh", _FLOAT8_OID)):
        a[head]["ndim"], a[head]["nulls"], a[head]["oid"] = 1, 0, oid
        a[head]["dim"], a[head]["lb"] = k, 1
    a["s"]["l"], a["s"]["v"] = 2, signal_ids
    a["v"]["l"], a["v"]["v"] = 8, values
    return b"".join((_HEADER, a.tobytes(), b"\xff\xff"))


def copy_wide(*, conn: psycopg.Connection, data: bytes) -> None:
    with conn.cursor() as cur, cur.copy(
            f"COPY {WIDE_TABLE} (time, robot_id, signal_ids, value, quality) "
            "FROM STDIN (FORMAT BINARY)") as copy:
        view = memoryview(data)
        for i in range(0, len(view), 1 << 20):
            copy.write(view[i:i + (1 << 20)])


_OUT_HEADER = 19
_POINT_ROW = np.dtype([("n", ">i2"), ("lt", ">i4"), ("t", ">i8"), ("lr", ">i4"), ("r", ">i4"),
                       ("ls", ">i4"), ("s", ">i2"), ("lv", ">i4"), ("v", ">f8")])


def read_points_wide(*, conn: psycopg.Connection, after: datetime, until: datetime) -> PointBatch:
    """``storage.telemetry.read_points`` on the wide table: the ticks unnested by the server
    into the very stream the narrow query sends, decoded the same way."""
    buf = bytearray()
    with conn.cursor() as cur, cur.copy(
            f"""COPY (SELECT w.time, w.robot_id, u.sid, u.v
                        FROM {WIDE_TABLE} w,
                             unnest(w.signal_ids, w.value) WITH ORDINALITY u(sid, v, i)
                       WHERE w.time > %s AND w.time <= %s AND u.v IS NOT NULL
                         AND (w.quality IS NULL OR w.quality[u.i] = 0))
                TO STDOUT (FORMAT BINARY)""", (after, until)) as copy:
        for chunk in copy:
            buf += chunk
    a = np.frombuffer(memoryview(buf)[_OUT_HEADER:len(buf) - 2], dtype=_POINT_ROW)
    return PointBatch(time=(a["t"].astype(np.int64) + _PG_EPOCH_US) / 1e6,
                      robot=a["r"].astype(np.int64), signal=a["s"].astype(np.int64),
                      value=a["v"].astype(np.float64))


def read_ticks_wide(*, conn: psycopg.Connection, after: datetime, until: datetime,
                    n_signals: int) -> PointBatch:
    """The same points, the ticks sent whole and unnested by numpy: the cheapest read the wide
    layout allows (here every tick has ``n_signals`` good values, so each tuple has one
    width; a general reader would walk variable-width tuples)."""
    buf = bytearray()
    with conn.cursor() as cur, cur.copy(
            f"""COPY (SELECT time, robot_id, signal_ids, value, quality FROM {WIDE_TABLE}
                       WHERE time > %s AND time <= %s)
                TO STDOUT (FORMAT BINARY)""", (after, until)) as copy:
        for chunk in copy:
            buf += chunk
    a = np.frombuffer(memoryview(buf)[_OUT_HEADER:len(buf) - 2], dtype=_wide_row(n_signals))
    if a.size and not ((a["lq"] == -1).all() and (a["vh"]["nulls"] == 0).all()):
        raise psycopg.DataError("read_ticks_wide reads ticks of good values only")
    k = n_signals
    return PointBatch(time=np.repeat((a["t"].astype(np.int64) + _PG_EPOCH_US) / 1e6, k),
                      robot=np.repeat(a["r"].astype(np.int64), k),
                      signal=a["s"]["v"].astype(np.int64).ravel(),
                      value=a["v"]["v"].astype(np.float64).ravel())


def training_narrow(*, conn: psycopg.Connection, robot_id: int, after: datetime,
                    until: datetime) -> int:
    """Points ``storage.detector_models.training_points`` returns (the narrow read itself)."""
    return len(training_points(conn=conn, robot_id=robot_id, after=after, until=until))


def training_wide(*, conn: psycopg.Connection, robot_id: int, after: datetime,
                  until: datetime) -> int:
    """The same read on the wide table: one row per tick, arrays decoded by psycopg."""
    rows = conn.execute(
        f"""SELECT time, signal_ids, value, quality FROM {WIDE_TABLE}
            WHERE robot_id = %s AND time > %s AND time <= %s ORDER BY time""",
        (robot_id, after, until), binary=True).fetchall()
    return sum(len(r[2]) for r in rows)


_CHART_RAW = {
    "narrow": _RAW,
    "wide": f"""
        SELECT s.sid, extract(epoch FROM w.time)::float8, w.value[p.i]
          FROM unnest(%(signals)s::int2[]) AS s(sid)
         CROSS JOIN LATERAL (
               SELECT time, signal_ids, value, quality FROM {WIDE_TABLE}
                WHERE robot_id = %(robot)s AND time >= %(start)s AND time < %(end)s
                ORDER BY time LIMIT %(cap)s) w
         CROSS JOIN LATERAL (SELECT array_position(w.signal_ids, s.sid) AS i) p
         WHERE w.value[p.i] IS NOT NULL AND (w.quality IS NULL OR w.quality[p.i] = 0)
         ORDER BY s.sid, w.time""",
}
_BIN = "date_bin(make_interval(secs => %(step)s), {t}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
_CHART_BINNED = {
    "narrow": _BINNED.format(bin=_DATE_BIN),
    "wide": f"""
        SELECT s.sid, extract(epoch FROM {_BIN.format(t="w.time")})::float8 AS b,
               min(w.value[p.i]), avg(w.value[p.i]), max(w.value[p.i])
          FROM {WIDE_TABLE} w
         CROSS JOIN unnest(%(signals)s::int2[]) AS s(sid)
         CROSS JOIN LATERAL (SELECT array_position(w.signal_ids, s.sid) AS i) p
         WHERE w.robot_id = %(robot)s AND w.time >= %(start)s AND w.time < %(end)s
           AND w.value[p.i] IS NOT NULL AND (w.quality IS NULL OR w.quality[p.i] = 0)
         GROUP BY 1, 2 ORDER BY 1, 2""",
}


def chart_raw(*, conn: psycopg.Connection, layout: str, robot_id: int, signals: list[int],
              start: datetime, end: datetime, cap: int) -> int:
    """``storage.downsample``'s raw query (capped per series) on one layout; rows returned."""
    return len(conn.execute(_CHART_RAW[layout], {"robot": robot_id, "signals": signals,
                                                 "start": start, "end": end, "cap": cap},
                            binary=True).fetchall())


def chart_binned(*, conn: psycopg.Connection, layout: str, robot_id: int, signals: list[int],
                 start: datetime, end: datetime, step_s: int) -> int:
    """``storage.downsample``'s bucketed query (plain PostgreSQL) on one layout; buckets."""
    return len(conn.execute(_CHART_BINNED[layout], {"robot": robot_id, "signals": signals,
                                                    "start": start, "end": end,
                                                    "step": step_s}, binary=True).fetchall())


def wide_arrays_sample(*, conn: psycopg.Connection, limit: int) -> list[tuple[int, bytes]]:
    """(robot_id, the value array's binary form) of stored ticks in series order, as
    TimescaleDB's compression would see them (segment by robot, order by time)."""
    rows = conn.execute(
        f"""SELECT robot_id, value FROM {WIDE_TABLE} ORDER BY robot_id, time LIMIT %s""",
        (limit,), binary=True).fetchall()
    return [(int(r), np.asarray(v, dtype=">f8").tobytes()) for r, v in rows]

