"""The detection outbox against a real PostgreSQL: stored in order, exactly once on replay,
kept while the connection is gone, a refused event dropped without holding back the rest."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from detection.engine import (
    DETECTOR_NAME,
    AnomalyClosed,
    AnomalyOpened,
    BaselineLearned,
    EngineEvent,
    HealthUpdate,
)
from detection.outbox import Outbox
from storage.anomalies import list_anomalies
from storage.connect import DatabaseUnavailable, connect
from storage.detector_models import list_models
from storage.maintenance import health_since
from tests.ticketing.fleet import register

T0 = time.time() - 60.0


def _events(rid: int) -> list[EngineEvent]:
    return [
        BaselineLearned(robot_id=rid, state={"detector": "RobotBaseline"}, params={"k": 6.0},
                        trained_from=T0 - 120.0, trained_to=T0),
        AnomalyOpened(robot_id=rid, component="J2", kind="temperature_high",
                      signals=("J2.temperature",), score=1.2, impact="core-module",
                      started_at=T0, evidence={"peak_score": 1.2}, detected_at=T0 + 2.0),
        HealthUpdate(robot_id=rid, component="J2", kind="temperature_high", at=T0 + 30.0,
                     indicator=1.5, health=0.6, rul_s=300.0, rul_low_s=200.0,
                     rul_high_s=400.0),
    ]


def _outbox() -> tuple[Outbox, dict[int, int]]:
    versions: dict[int, int] = {}
    return Outbox(name_of=lambda rid: f"R#{rid}", on_model=versions.__setitem__), versions


def test_a_replay_after_a_lost_commit_stores_nothing_twice(db_url):
    rid = register(db_url)["R-C1"]
    box, versions = _outbox()
    with connect(db_url, autocommit=True) as conn:
        box.add(_events(rid))
        box.flush(conn)
        # The same events again: what a retry does when the first commit's outcome was lost.
        box.add(_events(rid))
        box.flush(conn)
        assert len(box) == 0
        anomalies, total = list_anomalies(conn=conn, robot="R-C1")
        models = list_models(conn=conn, detector=DETECTOR_NAME, robot_id=rid)
        trend = health_since(conn=conn, since=datetime.fromtimestamp(T0, UTC))
    assert total == 1 and box.opened == 1
    # The health estimate is kept once for the maintenance planner, not once per replay.
    assert [(h.robot, h.component, h.rul_low_s) for h in trend] == [("R-C1", "J2", 200.0)]
    assert anomalies[0].evidence["health"]["rul_s"] == 300.0
    assert anomalies[0].evidence["detected_at"] == T0 + 2.0
    assert [m.version for m in models] == [1] and versions == {rid: 1}


def test_events_wait_while_the_connection_is_gone_and_keep_their_order(db_url):
    rid = register(db_url)["R-C1"]
    box, _ = _outbox()
    box.add([*_events(rid), AnomalyClosed(robot_id=rid, component="J2", kind="temperature_high",
                                          ended_at=T0 + 40.0)])
    conn = connect(db_url, autocommit=True)
    conn.close()
    with pytest.raises(DatabaseUnavailable):
        box.flush(conn)
    assert len(box) == 4
    with connect(db_url, autocommit=True) as conn:
        box.flush(conn)
        anomalies, _ = list_anomalies(conn=conn, robot="R-C1")
    # opened, then its evidence merged, then closed: in the order the engine reported them
    assert len(anomalies) == 1 and anomalies[0].ended_at is not None
    assert anomalies[0].evidence["health"]["health"] == 0.6
    assert (box.opened, box.closed, len(box)) == (1, 1, 0)


def test_an_event_the_database_refuses_is_logged_and_dropped(db_url, caplog):
    rid = register(db_url)["R-C1"]
    box, _ = _outbox()
    unknown = AnomalyOpened(robot_id=999_999, component="J1", kind="torque_high", signals=(),
                            score=2.0, impact="minor", started_at=T0, evidence={})
    box.add([unknown, *_events(rid)])
    with caplog.at_level(logging.ERROR), connect(db_url, autocommit=True) as conn:
        box.flush(conn)
        _, total = list_anomalies(conn=conn)
    assert total == 1 and len(box) == 0
    assert [r.getMessage().startswith("could not store AnomalyOpened(robot_id=999999")
            for r in caplog.records if r.levelno == logging.ERROR] == [True]
