"""Telemetry for charts: one robot's signals over any range, at most ``max_points`` per series.

A short range comes back as the raw points. A longer one comes back as fixed buckets with the
minimum, mean and maximum of each, so a one-sample spike still shows at the 90-day zoom.
Buckets are a "nice" size (1 s, 2 s, 5 s, ... 1 day) at least ``range / max_points`` long and
aligned to the Unix epoch, so neighbouring requests share bucket edges and a chart can be
panned without its shape jumping.

Both dialects live here: ``date_bin`` over the raw rows on plain PostgreSQL (its
``telemetry_1m`` is a view computed on read, which would not use the series index for a
range); on TimescaleDB ``time_bucket`` over the ``telemetry_1m`` continuous aggregate for
buckets of a minute or more (min of minima, max of maxima, mean weighted by count) and over
the raw rows below that. The aggregate lags the raw rows by its refresh policy (a minute),
which a chart of a minute-sized bucket does not show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

__all__ = ["Series", "Telemetry", "BUCKET_LADDER_S", "bucket_for", "read_series",
           "signal_units", "is_timescale"]

# Bucket sizes a person reads without arithmetic; the chart's axis ticks fall on them.
BUCKET_LADDER_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                   21600, 43200, 86400, 172800, 604800)
_ROLLUP_S = 60  # telemetry_1m's bucket: coarser buckets can be built from it


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    signal: str
    unit: str | None
    t: list[float]  # bucket start (or sample time), Unix seconds
    min: list[float]
    avg: list[float]
    max: list[float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Telemetry:
    bucket_s: float | None  # None: raw points
    series: list[Series]


def bucket_for(*, span_s: float, max_points: int) -> int:
    """The smallest ladder bucket that keeps ``span_s`` within ``max_points`` buckets."""
    need = span_s / max_points
    for size in BUCKET_LADDER_S:
        if size >= need:
            return size
    # Beyond a week per bucket: whole weeks (a range of decades, which nobody charts).
    return int(math.ceil(need / BUCKET_LADDER_S[-1])) * BUCKET_LADDER_S[-1]


def is_timescale(*, conn: psycopg.Connection) -> bool:
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
    ).fetchone() == (True,)


def signal_units(
    *, conn: psycopg.Connection, names: Sequence[str]
) -> dict[str, tuple[int, str | None]]:
    """name -> (signal id, unit) for the known names among ``names``."""
    rows = conn.execute("SELECT name, id, unit FROM signals WHERE name = ANY(%s)",
                        (list(names),)).fetchall()
    return {name: (sid, unit) for name, sid, unit in rows}


_RAW = """
    SELECT s.sid, extract(epoch FROM r.time)::float8, r.value
      FROM unnest(%(signals)s::int2[]) AS s(sid)
     CROSS JOIN LATERAL (
           SELECT time, value FROM telemetry
            WHERE robot_id = %(robot)s AND signal_id = s.sid
              AND time >= %(start)s AND time < %(end)s
              AND quality = 0 AND value IS NOT NULL
            ORDER BY time
            LIMIT %(cap)s) r
     ORDER BY s.sid, r.time
"""

_BINNED = """
    SELECT signal_id, extract(epoch FROM {bin})::float8 AS b,
           min(value), avg(value), max(value)
      FROM telemetry
     WHERE robot_id = %(robot)s AND signal_id = ANY(%(signals)s)
       AND time >= %(start)s AND time < %(end)s
       AND quality = 0 AND value IS NOT NULL
     GROUP BY 1, 2
     ORDER BY 1, 2
"""
_DATE_BIN = "date_bin(make_interval(secs => %(step)s), time, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
_TIME_BUCKET = "time_bucket(make_interval(secs => %(step)s), time)"

_ROLLED = """
    SELECT signal_id,
           extract(epoch FROM time_bucket(make_interval(secs => %(step)s), bucket))::float8,
           min(min), sum(avg * n) / nullif(sum(n), 0), max(max)
      FROM telemetry_1m
     WHERE robot_id = %(robot)s AND signal_id = ANY(%(signals)s)
       AND bucket >= %(start)s AND bucket < %(end)s
     GROUP BY 1, 2
     ORDER BY 1, 2
"""


def _binned_sql(*, timescale: bool, step: int) -> str:
    if timescale and step >= _ROLLUP_S and step % _ROLLUP_S == 0:
        return _ROLLED
    return _BINNED.format(bin=_TIME_BUCKET if timescale else _DATE_BIN)


def read_series(
    *, conn: psycopg.Connection, robot_id: int, signals: dict[str, tuple[int, str | None]],
    start: datetime, end: datetime, max_points: int,
) -> Telemetry:
    """``signals`` (name -> (id, unit), from :func:`signal_units`) of one robot with
    ``start <= time < end``, good quality only, at most ``max_points`` per series.

    Raw points when every series has at most ``max_points`` of them in the range (one capped
    index scan per series finds out); buckets otherwise.
    """
    by_id = {sid: name for name, (sid, _) in signals.items()}
    params = {"robot": robot_id, "signals": list(by_id), "start": start, "end": end}
    raw = conn.execute(_RAW, {**params, "cap": max_points + 1}, binary=True).fetchall()
    counts: dict[int, int] = {}
    for sid, _, _ in raw:
        counts[sid] = counts.get(sid, 0) + 1
    if all(n <= max_points for n in counts.values()):
        cols = _columns(((sid, t, v, v, v) for sid, t, v in raw), by_id, signals)
        return Telemetry(bucket_s=None, series=cols)
    step = bucket_for(span_s=(end - start).total_seconds(), max_points=max_points)
    rows = conn.execute(_binned_sql(timescale=is_timescale(conn=conn), step=step),
                        {**params, "step": step}, binary=True).fetchall()
    return Telemetry(bucket_s=float(step), series=_columns(rows, by_id, signals))


def _columns(rows: object, by_id: dict[int, str],
             signals: dict[str, tuple[int, str | None]]) -> list[Series]:
    acc: dict[int, tuple[list[float], list[float], list[float], list[float]]] = {
        sid: ([], [], [], []) for sid in by_id}
    for sid, t, lo, mean, hi in rows:  # type: ignore[attr-defined]
        cols = acc[sid]
        cols[0].append(t)
        cols[1].append(lo)
        cols[2].append(mean)
        cols[3].append(hi)
    return [Series(signal=name, unit=signals[name][1], t=acc[sid][0], min=acc[sid][1],
                   avg=acc[sid][2], max=acc[sid][3])
            for sid, name in by_id.items()]
