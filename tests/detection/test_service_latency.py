"""The detection service's read path: columnar reads, overlapping polls scored exactly once,
and an alarm reaching the anomalies table at the first poll after its commit."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from detection.engine import AnomalyOpened
from detection.engine.config import load_engine_policy
from detection.service import DetectionService, SeriesClock, Shard, fresh_batch
from simulators.registry import fleet_spec
from simulators.scenario import Scenario, packaged_scenario_path
from storage.anomalies import list_anomalies
from storage.fleet import ensure_signals, register_fleet
from storage.telemetry import (
    QUALITY_BAD,
    QUALITY_GOOD,
    QUALITY_UNCERTAIN,
    PointBatch,
    copy_rows,
    read_points,
    read_window,
)


def _points(rows: list[tuple[float, int, int, float]]) -> PointBatch:
    a = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return PointBatch(a[:, 0], a[:, 1].astype(np.int64), a[:, 2].astype(np.int64), a[:, 3])


# -- pure logic -----------------------------------------------------------------------------

def test_overlapping_reads_hand_each_point_over_once_and_in_time_order():
    clock = SeriesClock()
    first = fresh_batch(_points([(2.0, 1, 7, 20.0), (1.0, 1, 7, 10.0), (1.5, 2, 7, 15.0)]), clock)
    assert first.time.tolist() == [1.0, 1.5, 2.0]
    assert first.value.tolist() == [10.0, 15.0, 20.0]
    # The next poll re-reads the same window plus newer points, and one late point of a
    # series (robot 2) whose newest handed-over point is older than it.
    second = fresh_batch(_points([(1.0, 1, 7, 10.0), (2.0, 1, 7, 20.0), (1.5, 2, 7, 15.0),
                                  (1.8, 2, 7, 18.0), (3.0, 1, 7, 30.0), (0.5, 1, 8, 5.0)]), clock)
    assert list(zip(second.time.tolist(), second.robot.tolist(), second.signal.tolist(),
                    strict=True)) == [(0.5, 1, 8), (1.8, 2, 7), (3.0, 1, 7)]
    # A point older than its series' newest one came too late to be scored in order.
    third = fresh_batch(_points([(2.5, 1, 7, 25.0), (3.0, 1, 7, 30.0)]), clock)
    assert len(third) == 0
    assert len(clock) == 3


def test_series_keys_of_large_ids_do_not_collide():
    clock = SeriesClock()
    b = fresh_batch(_points([(1.0, 70_000, 1, 1.0), (1.0, 1, 70_000 & 0x7FFF, 2.0),
                             (1.0, 70_001, 1, 3.0)]), clock)
    assert len(b) == 3 and len(clock) == 3


def test_empty_read_is_an_empty_batch():
    clock = SeriesClock()
    b = fresh_batch(_points([]), clock)
    assert len(b) == 0 and len(clock) == 0


# -- against PostgreSQL ---------------------------------------------------------------------

@pytest.fixture
def fleet(db: psycopg.Connection) -> tuple[dict[str, int], dict[str, int]]:
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(3)
    robots = register_fleet(conn=db, fleet=fleet_spec(sc))
    signals = ensure_signals(conn=db, names=["J1.temperature", "alarm_code", "program_state"])
    db.commit()
    return robots, signals


def test_read_points_matches_the_row_reader_and_filters_quality_and_shard(db, fleet):
    robots, signals = fleet
    rids = sorted(robots.values())
    t0 = datetime.now(UTC) - timedelta(seconds=10)
    rows = []
    for i in range(40):
        ts = t0 + timedelta(milliseconds=100 * i + 7)
        for rid in rids:
            q = (QUALITY_GOOD, QUALITY_UNCERTAIN, QUALITY_GOOD, QUALITY_GOOD)[i % 4]
            rows.append((ts, rid, signals["J1.temperature"], 40.0 + i / 3 + rid, q))
            rows.append((ts, rid, signals["alarm_code"], None if i == 5 else 0.0,
                         QUALITY_BAD if i == 5 else QUALITY_GOOD))
    copy_rows(conn=db, rows=rows)
    db.commit()
    after, until = t0 + timedelta(seconds=0.5), t0 + timedelta(seconds=3.2)
    expected = read_window(conn=db, after=after, until=until)
    got = read_points(conn=db, after=after, until=until)
    assert len(got) == len(expected) > 0
    order = np.lexsort((got.signal, got.robot, got.time))
    exp = sorted(expected, key=lambda r: (r[0], r[1], r[2]))
    assert got.time[order].tolist() == pytest.approx([r[0].timestamp() for r in exp], abs=1e-6)
    assert got.robot[order].tolist() == [r[1] for r in exp]
    assert got.signal[order].tolist() == [r[2] for r in exp]
    assert got.value[order].tolist() == [r[3] for r in exp]
    mine = read_points(conn=db, after=after, until=until, worker=1, workers=2)
    assert len(mine) > 0 and set(mine.robot.tolist()) == {r for r in rids if r % 2 == 1}
    last = t0 + timedelta(milliseconds=100 * 39 + 7)  # the newest point stored
    assert len(read_points(conn=db, after=last, until=last + timedelta(seconds=60))) == 0


def test_polls_score_every_committed_point_once_and_open_an_alarm_at_the_next_poll(
        db, db_url, fleet):
    robots, signals = fleet
    rid = robots["B-0003"]
    base = load_engine_policy()
    pol = base.model_copy(update={"engine": base.engine.model_copy(
        update={"read_lag_s": 0.0, "reread_s": 1.0, "late_sweep_s": 1.0})})
    service = DetectionService(conninfo=db_url, policy=pol, shard=Shard())
    alarm = signals["alarm_code"]
    state = signals["program_state"]
    try:
        service.start()
        written = 0
        opened: list[AnomalyOpened] = []
        fault_at = None
        start = time.time()
        for k in range(8):
            # Each batch is committed 0.3 s after its newest sample (a collector's batch
            # clock), so every poll re-reads points it handed over before.
            ts = [start + 0.2 * k + 0.05 * j for j in range(4)]
            time.sleep(max(0.0, ts[-1] + 0.3 - time.time()))
            code = 2001.0 if k >= 5 else 0.0
            if k == 5:
                fault_at = min(ts)
            rows = [(datetime.fromtimestamp(t, UTC), rid, sid, v, QUALITY_GOOD)
                    for t in ts for sid, v in ((alarm, code), (state, 1.0))]
            copy_rows(conn=db, rows=rows)
            db.commit()
            written += len(rows)
            opened += [e for e in service.step() if isinstance(e, AnomalyOpened)]
        assert service.points_scored == written
        assert service.points_read > written  # the polls overlapped
        assert [(e.robot_id, e.component, e.kind) for e in opened] == [
            (rid, "controller", "collision")]
        assert opened[0].detected_at == pytest.approx(fault_at, abs=1e-3)
    finally:
        service.close()
    rows_, total = list_anomalies(conn=db, robot="B-0003")
    assert total == 1 and rows_[0].kind == "collision"


# -- the whole path -------------------------------------------------------------------------

@pytest.mark.slow
def test_bench_latency_finds_every_injected_collision_through_the_real_pipeline(tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("ROBOWATCH_DATABASE_URL", "ROBOWATCH_MQTT_URL")}
    proc = subprocess.run(
        [sys.executable, "-m", "robowatch", "--log-level", "WARNING", "bench", "latency",
         "--robots", "4", "--rate", "5", "--seconds", "30", "--json"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["faults_scheduled"] == report["faults_seen_in_telemetry"] == 4
    assert report["anomalies_found"] == 4
    # An alarm is decided on the very sample that carries it.
    assert report["engine_decision_p99_s"] == 0.0
    assert 0.0 < report["latency_p50_s"] <= report["latency_p99_s"]
    assert report["read_path_5s_window"]["points"] > 0
