"""The detection service against a real PostgreSQL: model registry, retraining, persistence."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from detection.engine import DETECTOR_NAME, AnomalyClosed, AnomalyOpened, HealthUpdate
from detection.engine.config import load_engine_policy
from detection.errors import DetectionError
from detection.service import DetectionService, retrain_robot
from simulators.model import FleetModel
from simulators.registry import fleet_spec
from simulators.scenario import Scenario, packaged_scenario_path
from storage.anomalies import list_anomalies
from storage.detector_models import latest_versions, list_models
from storage.fleet import ensure_signals, register_fleet
from storage.telemetry import copy_rows


@pytest.fixture
def fleet(db: psycopg.Connection) -> tuple[dict[str, int], dict[str, int], FleetModel]:
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(2)
    robots = register_fleet(conn=db, fleet=fleet_spec(sc))
    model = FleetModel(sc, seed=1, start_time=time.time() - 200.0)
    signals = ensure_signals(conn=db, names=model.signal_names)
    db.commit()
    return robots, signals, model


def store(db: psycopg.Connection, model: FleetModel, robot_ids: list[int],
          signals: dict[str, int], t0: float, seconds: float, rate: float = 2.0) -> None:
    sids = [signals[n] for n in model.signal_names]
    rows = []
    for t in np.arange(t0, t0 + seconds, 1.0 / rate):
        vals = model.step(float(t))
        ts = datetime.fromtimestamp(float(t), UTC)
        for i, rid in enumerate(robot_ids):
            rows += [(ts, rid, sid, float(v), 0) for sid, v in zip(sids, vals[i], strict=True)]
    copy_rows(conn=db, rows=rows)
    db.commit()


def test_retrain_stores_versions_and_a_restarted_service_restores_them(db, db_url, fleet):
    robots, signals, model = fleet
    rid = robots["B-0001"]
    t0 = model.start_time
    store(db, model, [rid, robots["B-0002"]], signals, t0, 150.0)
    pol = load_engine_policy()
    end = datetime.fromtimestamp(t0 + 150.0, UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        v1 = retrain_robot(conn=conn, policy=pol, robot_id=rid, after=end - timedelta(seconds=150),
                           until=end)
        v2 = retrain_robot(conn=conn, policy=pol, robot_id=rid, after=end - timedelta(seconds=140),
                           until=end)
        with pytest.raises(DetectionError, match="did not complete"):
            retrain_robot(conn=conn, policy=pol, robot_id=rid, after=end - timedelta(seconds=20),
                          until=end)
        assert (v1, v2) == (1, 2)
        assert latest_versions(conn=conn, detector=DETECTOR_NAME) == {rid: 2}
        history = list_models(conn=conn, detector=DETECTOR_NAME, robot_id=rid)
        assert [m.version for m in history] == [2, 1]
        assert history[0].state["cycle"]["learnt"] and history[0].params["retrained"]
    service = DetectionService(conninfo=db_url, policy=pol)
    try:
        service.start()
        assert service.engine is not None
        assert service.engine.has_baseline(rid)
        assert not service.engine.has_baseline(robots["B-0002"])
    finally:
        service.close()


def test_step_opens_an_anomaly_from_new_telemetry_and_persists_health_and_close(db, db_url, fleet):
    robots, signals, _ = fleet
    rid = robots["B-0002"]
    base = load_engine_policy()
    pol = base.model_copy(update={"engine": base.engine.model_copy(
        update={"read_lag_s": 0.0, "breach_s": 0.5})})
    service = DetectionService(conninfo=db_url, policy=pol)
    try:
        service.start()
        now = time.time()
        temp = signals["J2.temperature"]
        hot = pol.static_high["temperature"] + 10.0
        # Above the motor's static limit for 1 s, written ahead of time.
        rows = [(datetime.fromtimestamp(now + i / 5, UTC), rid, temp, hot + i / 10, 0)
                for i in range(6)]
        copy_rows(conn=db, rows=rows)
        db.commit()
        time.sleep(max(0.0, now + 1.2 - time.time()))
        events = service.step()
        got = [e for e in events if isinstance(e, AnomalyOpened)]
        assert [(e.robot_id, e.component, e.kind) for e in got] == [(rid, "J2", "temperature_high")]
        service.outbox.add([
            HealthUpdate(robot_id=rid, component="J2", kind="temperature_high", at=now + 2,
                         indicator=1.5, health=0.62, rul_s=300.0, rul_low_s=200.0,
                         rul_high_s=450.0),
            AnomalyClosed(robot_id=rid, component="J2", kind="temperature_high", ended_at=now + 3)])
        service.step()
        assert len(service.outbox) == 0 and (service.opened, service.closed) == (1, 1)
    finally:
        service.close()
    rows_, total = list_anomalies(conn=db, robot="B-0002")
    assert total == 1
    a = rows_[0]
    assert (a.detector, a.impact) == (DETECTOR_NAME, "core-module")
    assert a.evidence["static_high"] == pol.static_high["temperature"]
    assert a.evidence["detected_at"] >= now
    assert a.evidence["health"]["rul_s"] == 300.0
    assert a.ended_at is not None
