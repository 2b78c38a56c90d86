"""The scenarios shipped with the project load, and a run's labels are their fault schedules."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from simulators.labels import read_labels_file
from simulators.runner import RunConfig, run
from simulators.scenario import EVENT_KINDS, PROGRESSIVE_KINDS, Scenario, packaged_scenario_path
from storage.connect import connect
from storage.ground_truth import list_fault_labels
from tests.simulators.test_mqtt import Recorder


@pytest.mark.parametrize("name", ["demo", "bench"])
def test_packaged_scenario_loads_with_a_complete_fleet(name: str) -> None:
    sc = Scenario.load(packaged_scenario_path(name))
    assert sc.name == name and sc.faults
    programs = {p.name: p for p in sc.programs}
    assert len(programs) >= 3 and len({p.duty for p in programs.values()}) >= 3
    for p in sc.robots():
        r = p.robot
        assert r.brand and r.model and r.serial and r.install_date < r.warranty_end
        assert r.program in programs and p.customer.tier in ("core", "important", "ordinary")
    assert {"welding", "palletising"} <= set(programs)


def test_demo_fleet_runs_pick_and_place_too() -> None:
    sc = Scenario.load(packaged_scenario_path("demo"))
    assert "pick-and-place" in {p.robot.program for p in sc.robots()}
    assert all(c.city for c in sc.customers)


@pytest.mark.mqtt
@pytest.mark.parametrize("name, speedup", [("demo", 1.0), ("bench", 20.0)])
async def test_labels_of_a_run_match_its_fault_schedule(
        name: str, speedup: float, mosquitto: str, tmp_path: Path, db_url: str) -> None:
    sc = Scenario.load(packaged_scenario_path(name))
    rec = Recorder(mosquitto, "robowatch/+/+/+/+/telemetry")
    labels_file = tmp_path / "labels.jsonl"
    result = await run(sc, RunConfig(rate_hz=10, duration_s=0.5, protocol="mqtt",
                                     mqtt_url=mosquitto, seed=4, speedup=speedup,
                                     labels_path=labels_file, database_url=db_url,
                                     client_id_suffix=f"lab-{name}"))
    time.sleep(0.2)
    msgs = rec.stop()

    labels = read_labels_file(labels_file)
    assert len(labels) == len(sc.faults)
    start = result.start_time
    for f, lb in zip(sc.faults, labels, strict=True):
        assert (lb.robot, lb.component, lb.kind, lb.severity, lb.signal) == (
            f.robot, f.component, f.kind, f.severity, f.signal)
        assert lb.run_id == result.run_id
        assert lb.onset == pytest.approx(start + f.onset_s / speedup, abs=1e-3)
        if f.kind in PROGRESSIVE_KINDS:
            assert f.failure_s is not None
            assert lb.failure == pytest.approx(start + f.failure_s / speedup, abs=1e-3)
            assert lb.end is None
        else:
            assert f.kind in EVENT_KINDS
            if f.kind in ("collision", "stoppage"):
                assert lb.failure == lb.onset
            if f.duration_s is not None:
                assert lb.end == pytest.approx(start + (f.onset_s + f.duration_s) / speedup,
                                               abs=1e-3)

    with connect(db_url) as conn:
        rows = list_fault_labels(conn=conn, run_id=result.run_id)
    assert sorted((r.robot, r.kind, round(r.onset_at.timestamp(), 3)) for r in rows) == sorted(
        (lb.robot, lb.kind, lb.onset) for lb in labels)

    # Scenario second 0 is the first sample, and samples sit on the rate's grid.
    stamps = sorted({json.loads(p)["ts"] for _, p, _ in msgs})
    assert stamps[0] == pytest.approx(start, abs=1e-3)
    assert [round((t - start) * 10) for t in stamps] == list(range(len(stamps)))
