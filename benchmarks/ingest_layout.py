"""``bench layout``: the narrow telemetry layout against one row per robot tick, end to end.

Both tables hold the same points (``robots x signals x rate x seconds``, generated here: a
slow sine per series plus full-precision noise, like the simulator's signals) in one embedded
PostgreSQL (or a scratch database on ``ROBOWATCH_DATABASE_URL``):

- narrow: the migrated ``telemetry`` table itself (migrations 0002 and 0006: one row per
  point, unique btree on (robot, signal, time), BRIN on time, daily partitions);
- wide: ``storage.measure_layout``'s table, one row per tick with ``signal_ids[]``,
  ``value[]`` and ``quality[]`` (NULL when all good), unique btree on (robot, time), BRIN.

Measured, each read the median of ``repeats``:

- ingest: encoding (numpy, as the collectors do) plus one binary COPY and its commit;
- detection's read path: ``storage.telemetry.read_points`` over the window one poll reads
  (1.25 s) and the one a late sweep reads (5 s), against the same answer from the wide table
  (unnested by the server, and sent whole and unnested by numpy); once right after the load,
  when no BRIN range is summarized yet (the newest rows are always in that state until
  VACUUM or autosummarize reaches them), and once after summarizing;
- a retraining's read (``storage.detector_models.training_points``): one robot, all of it;
- the chart queries of ``storage.downsample`` (plain-PostgreSQL dialect): 4 signals of one
  robot, raw over 50 s and bucketed over the whole range at 500 points per series;
- size on disk with indexes, and what TimescaleDB compression would make of each (it cannot
  run here: estimated, see ``_compressed_wide``).

The last line printed is one JSON object.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from benchmarks.ingest import _compressed_estimate, _database
from storage.connect import Conn, connect
from storage.downsample import bucket_for
from storage.measure import count_telemetry
from storage.measure_layout import (
    chart_binned,
    chart_raw,
    copy_wide,
    create_wide,
    encode_wide_copy,
    read_points_wide,
    read_ticks_wide,
    summarize_brin,
    training_narrow,
    training_wide,
    wide_arrays_sample,
)
from storage.migrate import upgrade
from storage.telemetry import (
    QUALITY_GOOD,
    PointColumns,
    copy_encoded,
    encode_copy,
    read_points,
    table_bytes,
)

__all__ = ["run_layout"]

T = TypeVar("T")


def _fleet_values(robots: int, signals: int, rate: float, seconds: float,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(tick times in us (n,), robot ids (n,), signal ids (k,), values (n, k)): ticks in time
    order, the robots of one instant one after the other, as collectors receive them."""
    rng = np.random.default_rng(0)
    n_ticks = int(seconds * rate)
    start_us = int((time.time() - seconds) * 1e6)
    t_tick = start_us + (np.arange(n_ticks, dtype=np.int64) * int(1e6 / rate))
    t = np.repeat(t_tick, robots)
    r = np.tile(np.arange(1, robots + 1, dtype=np.int32), n_ticks)
    sids = np.arange(1, signals + 1, dtype=np.int16)
    level = rng.uniform(-50, 150, size=(robots, signals))
    period = rng.uniform(20, 600, size=(robots, signals))
    phase = (t[:, None] / 1e6) / period[r - 1] * 2 * np.pi
    values = level[r - 1] + 5 * np.sin(phase) + rng.normal(0, 0.5, size=(len(t), signals))
    return t, r, sids, values


def _median_s(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """(median seconds of ``repeats`` calls, the last call's result)."""
    times = []
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    out = fn()
    times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _compressed_wide(url: str, sample_ticks: int = 20_000, batch: int = 1000) -> float:
    """Bytes per point of the wide layout in a compressed TimescaleDB chunk, estimated. An
    array column gets no per-element coding there (Gorilla and delta-of-delta are for scalar
    columns): batches of up to 1,000 rows per segment are stored as serialized arrays and
    squeezed by PostgreSQL's generic compression (pglz, or lz4). zlib stands in for it and
    compresses at least as well, so the figure is a lower bound; time, ids and the NULL
    quality cost next to nothing per point and are left out."""
    with connect(url) as conn:
        rows = wide_arrays_sample(conn=conn, limit=sample_ticks)
    if not rows:
        return 0.0
    total, points, i = 0, 0, 0
    while i < len(rows):
        j = i
        while j < len(rows) and j - i < batch and rows[j][0] == rows[i][0]:
            j += 1
        chunk = b"".join(v for _, v in rows[i:j])
        total += len(zlib.compress(chunk, 6))
        points += len(chunk) // 8
        i = j
    return round(total / points, 2)


def _timed_load(conn: Conn, encode: Callable[[], bytes],
                copy: Callable[[bytes], None]) -> tuple[float, float]:
    """(seconds encoding, seconds of the COPY and its commit), from a clean checkpoint."""
    t0 = time.perf_counter()
    data = encode()
    encoded = time.perf_counter() - t0
    conn.execute("CHECKPOINT")
    t0 = time.perf_counter()
    copy(data)
    conn.commit()
    return encoded, time.perf_counter() - t0


def _detection_reads(conn: Conn, end: datetime, k: int, repeats: int) -> dict[str, Any]:
    """``read_points`` over a poll's window (1.25 s) and a late sweep's (5 s), both layouts."""
    reads: dict[str, Any] = {}
    for window in (1.25, 5.0):
        after = end - timedelta(seconds=window)
        s_n, a = _median_s(lambda: read_points(
            conn=conn, after=after, until=end), repeats)  # noqa: B023
        s_w, b = _median_s(lambda: read_points_wide(
            conn=conn, after=after, until=end), repeats)  # noqa: B023
        s_t, c = _median_s(lambda: read_ticks_wide(
            conn=conn, after=after, until=end, n_signals=k), repeats)  # noqa: B023
        if not len(a) == len(b) == len(c):
            raise RuntimeError(f"layouts disagree: {len(a)}, {len(b)}, {len(c)}")
        reads[f"{window:g}s"] = {"points": len(a), "narrow_ms": round(s_n * 1e3, 2),
                                 "wide_unnest_ms": round(s_w * 1e3, 2),
                                 "wide_numpy_ms": round(s_t * 1e3, 2)}
    return reads


def run_layout(robots: int, signals: int, rate: float, seconds: float,
               settings_url: str | None, tmp: Path, repeats: int = 5,
               progress: Any = print) -> dict[str, Any]:
    t_us, r, sids, values = _fleet_values(robots, signals, rate, seconds)
    n_ticks, k = values.shape
    n_points = n_ticks * k
    report: dict[str, Any] = {"benchmark": "layout", "robots": robots, "signals": signals,
                              "rate_hz": rate, "seconds": seconds, "points": n_points,
                              "repeats": repeats,
                              "database": "external" if settings_url else "embedded"}
    with contextlib.ExitStack() as stack:
        url, _ = stack.enter_context(_database(settings_url, tmp))
        upgrade(url)
        with connect(url) as conn:
            create_wide(conn=conn)
            progress(f"ingest: {n_points:,} points narrow, {n_ticks:,} ticks wide")
            cols = PointColumns(time_us=np.repeat(t_us, k), robot_id=np.repeat(r, k),
                                signal_id=np.tile(sids, n_ticks), value=values.ravel(),
                                quality=np.full(n_points, QUALITY_GOOD, dtype=np.int16))
            enc_n, copy_n = _timed_load(conn, lambda: encode_copy(cols),
                                        lambda data: copy_encoded(conn=conn, data=data))
            enc_w, copy_w = _timed_load(
                conn, lambda: encode_wide_copy(time_us=t_us, robot_id=r, signal_ids=sids,
                                               values=values),
                lambda data: copy_wide(conn=conn, data=data))
            if count_telemetry(conn=conn) != n_points:
                raise RuntimeError("the narrow table does not hold every point")
            conn.execute("ANALYZE telemetry")
            conn.execute("ANALYZE bench_telemetry_wide")
            conn.commit()
            report["ingest"] = {
                "narrow_points_per_second": round(n_points / (enc_n + copy_n)),
                "wide_points_per_second": round(n_points / (enc_w + copy_w)),
                "narrow_encode_s": round(enc_n, 3), "narrow_copy_s": round(copy_n, 3),
                "wide_encode_s": round(enc_w, 3), "wide_copy_s": round(copy_w, 3),
            }
            nb = table_bytes(conn=conn)
            wb = table_bytes(conn=conn, table="bench_telemetry_wide")
            report["bytes_per_point"] = {"narrow": round(nb / n_points, 2),
                                         "wide": round(wb / n_points, 2)}

            progress("detection's read path")
            end = datetime.fromtimestamp(t_us[-1] / 1e6, UTC)
            report["detection_read_unsummarized"] = _detection_reads(conn, end, k, repeats)
            report["brin_ranges_summarized"] = summarize_brin(conn=conn)
            report["detection_read"] = _detection_reads(conn, end, k, repeats)

            progress("retraining and chart reads")
            first = datetime.fromtimestamp(t_us[0] / 1e6, UTC) - timedelta(microseconds=1)
            s_n, ta = _median_s(lambda: training_narrow(conn=conn, robot_id=1, after=first,
                                                       until=end), max(1, repeats // 2))
            s_w, tb = _median_s(lambda: training_wide(conn=conn, robot_id=1, after=first,
                                                     until=end), max(1, repeats // 2))
            if ta != tb:
                raise RuntimeError(f"training reads disagree: {ta} != {tb}")
            report["training_read"] = {"points": ta, "narrow_ms": round(s_n * 1e3, 1),
                                       "wide_ms": round(s_w * 1e3, 1)}
            chart_sids = [int(s) for s in sids[:4]]
            raw_start = end - timedelta(seconds=50)
            whole = (end - first).total_seconds()
            step = bucket_for(span_s=whole, max_points=500)
            charts: dict[str, Any] = {"signals": len(chart_sids), "binned_step_s": step}
            for layout in ("narrow", "wide"):
                s_raw, n_raw = _median_s(lambda: chart_raw(
                    conn=conn, layout=layout, robot_id=1, signals=chart_sids,  # noqa: B023
                    start=raw_start, end=end, cap=501), repeats)
                s_bin, n_bin = _median_s(lambda: chart_binned(
                    conn=conn, layout=layout, robot_id=1, signals=chart_sids,  # noqa: B023
                    start=first, end=end, step_s=step), repeats)
                charts[layout] = {"raw_50s_ms": round(s_raw * 1e3, 2), "raw_rows": n_raw,
                                  "binned_whole_ms": round(s_bin * 1e3, 2),
                                  "binned_rows": n_bin}
            if (charts["narrow"]["raw_rows"], charts["narrow"]["binned_rows"]) != (
                    charts["wide"]["raw_rows"], charts["wide"]["binned_rows"]):
                raise RuntimeError(f"chart queries disagree: {charts}")
            report["chart_read"] = charts
        progress("compression estimates")
        report["bytes_per_point_timescale_compressed_estimate"] = {
            "narrow": _compressed_estimate(url),
            "wide_at_least": _compressed_wide(url)}
    return report
