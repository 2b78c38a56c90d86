"""The planner against a real PostgreSQL: work orders created, moved earlier by a falling
RUL with the reason stored, completed with a corrective finding (overdue escalation:
test_timers.py; parts: test_reserve.py)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from maintenance.errors import InspectionRefused, MissingDetail
from maintenance.orders import complete, start
from maintenance.policy import builtin_policy
from maintenance.service import sync
from storage import maintenance as store
from storage.anomalies import NewAnomaly, list_anomalies, open_anomaly
from tests.maintenance.fleet import NOW, seed

POLICY = builtin_policy()


def _hardware(db, robot):
    rows, _ = store.list_inspections(conn=db, robot=robot, open_only=True)
    return next(r for r in rows if r.plan == "hardware")


def test_sync_creates_placed_bundled_work_orders(db: psycopg.Connection) -> None:
    seed(db)
    res = sync(conn=db, policy=POLICY, now=NOW, actor="test")
    db.commit()
    assert res.created > 0 and res.unplaced == 0
    r1, r2, r3 = (_hardware(db, r) for r in ("R1", "R2", "R3"))
    assert r1.state == r2.state == "scheduled"
    assert r1.window_start == r2.window_start  # one visit for the site
    assert r1.engineer == "li" and r3.engineer == "wang"
    events = store.inspection_events(conn=db, inspection_id=r1.id)
    assert [e.event for e in events] == ["create", "schedule"]
    # Planning again with nothing changed changes nothing.
    again = sync(conn=db, policy=POLICY, now=NOW, actor="test")
    assert again.created == 0 and again.rescheduled == 0


def test_a_falling_rul_moves_the_stored_inspection_earlier_with_its_reason(
        db: psycopg.Connection) -> None:
    ids = seed(db)
    # R1 was installed recently: its hardware check is a month out and not yet a work order.
    for n, (health, low_h) in enumerate(((0.8, 400.0), (0.6, 150.0))):
        store.record_health(conn=db, robot_id=ids["R1"], component="J3", kind="vibration_high",
                            at=NOW - timedelta(hours=24 - 12 * n), indicator=3.0,
                            health=health, rul_s=low_h * 7200, rul_low_s=low_h * 3600,
                            rul_high_s=low_h * 14400)
    sync(conn=db, policy=POLICY, now=NOW - timedelta(hours=12), actor="test")
    before = _hardware(db, "R1")
    store.record_health(conn=db, robot_id=ids["R1"], component="J3", kind="vibration_high",
                        at=NOW, indicator=5.0, health=0.55, rul_s=200 * 3600.0,
                        rul_low_s=90 * 3600.0, rul_high_s=300 * 3600.0)
    res = sync(conn=db, policy=POLICY, now=NOW, actor="test")
    db.commit()
    after = _hardware(db, "R1")
    assert res.rescheduled >= 1
    assert after.due_at < before.due_at and after.trigger == "condition"
    assert after.due_at == NOW + timedelta(hours=90 - 72)
    assert after.condition["rul_low_h"] == 90.0 and after.condition["health"] == 0.55
    assert after.condition["health_before"] == 0.8
    last = store.inspection_events(conn=db, inspection_id=after.id)[-1]
    assert last.event == "reschedule" and "RUL 90.0..300.0 h" in last.data["reason"]


def test_complete_records_results_opens_a_corrective_anomaly_and_restarts_the_plan(
        db: psycopg.Connection) -> None:
    seed(db)
    sync(conn=db, policy=POLICY, now=NOW, actor="test")
    db.commit()
    hw = _hardware(db, "R1")
    with pytest.raises(InspectionRefused):
        complete(conn=db, inspection_id=hw.id, results={"fans": "ok"}, findings=[],
                 counters={}, actor="li", now=NOW)
    db.rollback()
    start(conn=db, inspection_id=hw.id, actor="li", now=NOW)
    db.commit()
    with pytest.raises(MissingDetail):
        complete(conn=db, inspection_id=hw.id, results={}, findings=[], counters={},
                 actor="li", now=NOW)
    with pytest.raises(MissingDetail):
        complete(conn=db, inspection_id=hw.id, results={"fans": "ok"},
                 findings=[{"corrective": True}], counters={}, actor="li", now=NOW)
    db.rollback()
    got = store.get_inspection(conn=db, inspection_id=hw.id)
    assert got is not None and got.state == "in_progress"
    done_at = NOW + timedelta(hours=14)
    row = complete(conn=db, inspection_id=hw.id, results={"fans": "ok", "abnormal_noise": "J3"},
                   findings=[{"note": "J3 gearbox grinding", "corrective": True,
                              "component": "J3", "impact": "core-module"}],
                   counters={"operating_hours": 1200.0}, actor="li", now=done_at)
    db.commit()
    assert row.state == "completed" and row.results == {"fans": "ok", "abnormal_noise": "J3"}
    anomalies, _ = list_anomalies(conn=db, robot="R1")
    assert anomalies[0].id == row.anomaly_id and anomalies[0].detector == "inspection"
    assert anomalies[0].evidence["inspection_id"] == hw.id
    assert store.last_completions(conn=db)[("R1", "hardware")][1] == {"operating_hours": 1200.0}
    # The next hardware check counts from the completion: a month later.
    sync(conn=db, policy=POLICY, now=done_at + timedelta(days=20), actor="test")
    nxt = _hardware(db, "R1")
    assert nxt.id != hw.id and nxt.due_at == done_at.replace(month=4)


def test_the_latest_estimate_in_an_open_anomaly_moves_it_too(db: psycopg.Connection) -> None:
    ids = seed(db)
    sync(conn=db, policy=POLICY, now=NOW - timedelta(days=1), actor="test")
    before = _hardware(db, "R2")
    # What detection writes today: the latest estimate in the open anomaly's evidence.
    open_anomaly(conn=db, anomaly=NewAnomaly(
        robot_id=ids["R2"], component="J2", kind="current_high", detector="robot_baseline",
        impact="core-module", started_at=NOW - timedelta(hours=5),
        evidence={"health": {"at": NOW.timestamp(), "indicator": 1.4, "health": 0.42,
                             "rul_s": 3600.0 * 100, "rul_low_s": 3600.0 * 80,
                             "rul_high_s": 3600.0 * 150}}))
    sync(conn=db, policy=POLICY, now=NOW, actor="test")
    after = _hardware(db, "R2")
    assert after.trigger == "condition" and after.due_at == NOW < before.due_at
    assert after.condition is not None and after.condition["health"] == 0.42
    assert "below 0.5" in after.reason
