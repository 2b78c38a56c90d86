"""The engine on the simulator's fleet model (no database): cycle baselines, program changes,
controller alarms, stuck sensors, intermittent faults, baseline state and the bench scorer."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace

import numpy as np
import pytest

from detection.benchmarks.fleet import Detection, FaultTruth, score_fleet
from detection.engine import (
    AnomalyClosed,
    AnomalyOpened,
    BaselineLearned,
    Batch,
    DetectionEngine,
    EngineEvent,
)
from detection.engine.baseline import RobotBaseline
from detection.engine.config import load_engine_policy
from detection.errors import StateError
from simulators.model import FleetModel
from simulators.scenario import Fault, Scenario, packaged_scenario_path

START = 1_800_000_000.0


def fleet(n: int, faults: tuple[Fault, ...] = (),
          programs: dict[int, str] | None = None) -> Scenario:
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(n)
    if programs:
        placed = sc.robots()
        codes = {placed[i].robot.code: p for i, p in programs.items()}
        sc = replace(sc, customers=tuple(
            replace(c, sites=tuple(replace(s, lines=tuple(
                replace(ln, robots=tuple(replace(r, program=codes.get(r.code, r.program))
                                         for r in ln.robots)) for ln in s.lines))
                for s in c.sites)) for c in sc.customers))
    return replace(sc, faults=faults)


class Feed:
    """Steps fleet models and feeds the engine one-second batches (robot i -> id i + 1)."""

    def __init__(self, sc: Scenario, rate: float = 5.0, **policy_engine: float) -> None:
        self.model = FleetModel(sc, seed=3, start_time=START)
        self.names = self.model.signal_names
        pol = load_engine_policy()
        if policy_engine:
            pol = pol.model_copy(update={"engine": pol.engine.model_copy(update=policy_engine)})
        n = self.model.n_robots
        self.engine = DetectionEngine(policy=pol, signal_names=dict(enumerate(self.names, 1)),
                                      robot_lines={i + 1: 1 + i % 2 for i in range(n)})
        self.rate = rate
        self.t = START

    def run(self, seconds: float, source: FleetModel | None = None,
            rows_for: list[int] | None = None) -> list[EngineEvent]:
        model = source or self.model
        events: list[EngineEvent] = []
        sig = np.arange(1, len(self.names) + 1)
        for _ in range(int(seconds)):
            ts, rs, vs = [], [], []
            for k in range(int(self.rate)):
                t = self.t + k / self.rate
                vals = model.step(t)
                pub = np.flatnonzero(model.publishing)
                if rows_for is not None:
                    pub = np.intersect1d(pub, rows_for)
                ts.append(np.full(pub.size * sig.size, t))
                rs.append(np.repeat(pub + 1, sig.size))
                vs.append(vals[pub].ravel())
            tt = np.concatenate(ts)
            self.t += 1.0
            batch = Batch(tt, np.concatenate(rs), np.tile(sig, tt.size // sig.size),
                          np.concatenate(vs))
            events += self.engine.process(batch, now=self.t)
        return events


def opened(events) -> list[AnomalyOpened]:
    return [e for e in events if isinstance(e, AnomalyOpened)]


def _baseline(feed: Feed, robot_id: int) -> RobotBaseline:
    base = feed.engine.baseline_of(robot_id)
    assert base is not None, f"robot {robot_id} has no baseline"
    return base


def test_healthy_fleet_learns_cycle_baselines_and_stays_quiet():
    feed = Feed(fleet(6))
    events = feed.run(300)
    learned = [e for e in events if isinstance(e, BaselineLearned)]
    assert {e.robot_id for e in learned} == set(range(1, 7))
    assert all(_baseline(feed, r).cycle_learnt for r in range(1, 7))
    cyc = _baseline(feed, 1)
    j1 = cyc.columns.index("J1.current")
    assert np.isfinite(cyc.cycle_median[j1]).all()  # every phase bin of J1.current learnt
    assert opened(events) == []
    assert feed.engine.points_scored > 0


def test_brake_fault_is_seen_in_the_current_of_its_phase_and_nowhere_else():
    sc = fleet(3, (Fault(robot="B-0002", component="J2", kind="brake_fault", onset_s=140.0,
                         failure_s=400.0),))
    feed = Feed(sc)
    events = feed.run(220)
    got = opened(events)
    assert got, "the dragging brake was not detected"
    assert {e.robot_id for e in got} == {2}
    assert got[0].component == "J2" and got[0].kind.startswith(("current", "torque", "temperature"))
    assert got[0].detected_at is not None and got[0].detected_at > START + 140.0
    assert got[0].evidence["window"], "evidence snapshot is empty"


def test_program_change_relearns_instead_of_alarming():
    feed = Feed(fleet(2))
    first = feed.run(130)
    assert _baseline(feed, 1).cycle_learnt
    other = FleetModel(fleet(2, programs={0: "machine-tending", 1: "machine-tending"}), seed=3,
                       start_time=START)
    other.step(feed.t - 1.0)
    events = feed.run(140, source=other)
    assert opened(first + events) == []
    relearnt = [e for e in events if isinstance(e, BaselineLearned) and e.robot_id == 1]
    assert relearnt, "a changed program must start a new baseline"
    base = _baseline(feed, 1)
    assert base.cycle_time == pytest.approx(30.0, rel=0.05)  # machine-tending's cycle


def test_controller_alarm_opens_at_once_and_closes_after_recovery():
    sc = fleet(2, (Fault(robot="B-0001", component="J1", kind="collision", onset_s=30.0,
                         duration_s=5.0),))
    feed = Feed(sc, recovery_s=3.0)
    events = feed.run(60)
    alarms = [e for e in opened(events) if e.component == "controller"]
    assert [(e.robot_id, e.kind, e.impact) for e in alarms] == [(1, "collision", "stoppage")]
    assert alarms[0].detected_at == pytest.approx(START + 30.0, abs=0.3)
    closed = [e for e in events if isinstance(e, AnomalyClosed) and e.kind == "collision"]
    assert closed and closed[0].ended_at >= START + 35.0


def test_stuck_sensor_opens_a_flatline_anomaly():
    sc = fleet(2, (Fault(robot="B-0002", component="J4", kind="sensor_stuck", onset_s=20.0,
                         duration_s=30.0, signal="J4.temperature"),))
    feed = Feed(sc)
    events = feed.run(45)
    got = [(e.robot_id, e.component, e.kind, e.detector) for e in opened(events)]
    assert got == [(2, "J4", "temperature_flatline", "flat_line")]
    detected_at = opened(events)[0].detected_at
    assert detected_at is not None and detected_at - (START + 20.0) < 15.0


def test_comm_loss_is_reported_once():
    feed = Feed(fleet(2), stale_s=5.0)
    feed.run(10)
    events = feed.run(12, rows_for=[1])  # robot 1 (index 0) falls silent
    got = [(e.robot_id, e.kind) for e in opened(events)]
    assert got == [(1, "communication_loss")]


def test_intermittent_spikes_open_through_the_spike_rule():
    pol = load_engine_policy()
    pol = pol.model_copy(update={"engine": pol.engine.model_copy(
        update={"baseline_s": 5.0, "spike_count": 3, "spike_window_s": 20.0})})
    eng = DetectionEngine(policy=pol, signal_names={1: "J3.temperature"}, robot_lines={1: 1})
    rng = np.random.default_rng(0)
    events = []
    for s in range(40):
        t = START + s + np.arange(5) / 5
        v = 40 + rng.normal(0, 0.2, 5)
        if s >= 10 and s % 4 == 0:
            v[0] = 60.0  # one 0.2 s spike every 4 s: never 2 s in a row
        events += eng.process(Batch(t, np.ones(5, np.int64), np.ones(5, np.int64), v),
                              now=float(t[-1]))
    got = opened(events)
    assert [e.kind for e in got] == ["temperature_high"]
    assert got[0].detected_at == pytest.approx(START + 20.0, abs=0.01)  # the third spike


def test_baseline_state_round_trips_through_json_and_rejects_garbage():
    feed = Feed(fleet(1))
    learned = [e for e in feed.run(125) if isinstance(e, BaselineLearned)][-1]
    state = json.loads(json.dumps(learned.state))  # what jsonb gives back
    base = RobotBaseline.from_state(state)
    ref = _baseline(feed, 1)
    np.testing.assert_allclose(base.cycle_high, ref.cycle_high)
    assert base.columns == ref.columns and base.cycle_learnt
    with pytest.raises(StateError):
        RobotBaseline.from_state({**state, "format": 1})
    with pytest.raises(StateError):
        RobotBaseline.from_state({**state, "level": {"median": [1.0], "scale": [1.0]}})


def test_fleet_scorer_counts_found_faults_delays_and_false_alarms():
    truths = [FaultTruth(robot_id=1, component="J1", kind="collision", onset=100.0,
                         failure=100.0, end=110.0, gradual=False),
              FaultTruth(robot_id=2, component="J2", kind="gearbox_wear", onset=50.0,
                         failure=500.0, end=None, gradual=True)]
    dets = [Detection(robot_id=1, component="controller", kind="collision", detected_at=100.2),
            Detection(robot_id=1, component="J1", kind="torque_high", detected_at=300.0),
            Detection(robot_id=3, component="J1", kind="torque_high", detected_at=10.0)]
    score = score_fleet(truths, dets, run_end=600.0).as_json()
    col = score["per_kind"]["collision"]
    assert (col["recall"], col["precision"], col["median_delay_s"]) == (1.0, 0.5, 0.2)
    assert score["per_kind"]["gearbox_wear"]["recall"] == 0.0
    assert score["false_alarms_on_healthy_robots"] == 1
    assert score["overall_precision"] == pytest.approx(1 / 3, abs=1e-3)


def test_bench_fleet_command_prints_its_figures_as_json():
    from typer.testing import CliRunner

    from robowatch.cli.bench import app

    res = CliRunner().invoke(app, ["fleet", "--robots", "24", "--duration", "60", "--rate", "2",
                                   "--warmup", "20", "--faults-per-kind", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["faults"] == 11 and set(out["per_kind"]) >= {"collision", "stoppage"}
    assert out["engine"]["points"] > out["engine"]["points_scored"] > 0  # counters: unscored
    assert out["per_kind"]["stoppage"]["recall"] == 1.0  # alarm 9001: found at once
    assert {"50%", "90%"} <= set(out["rul"])


def test_bench_fleet_learns_failure_levels_from_the_runs_failures(tmp_path):
    from typer.testing import CliRunner

    from detection.engine.config import RulConfig
    from robowatch.cli.bench import app

    out_file = tmp_path / "levels.toml"
    args = ["fleet", "--robots", "24", "--duration", "300", "--rate", "2", "--warmup", "40",
            "--faults-per-kind", "1", "--json"]
    res = CliRunner().invoke(app, [*args, "--runs", "2"])
    assert res.exit_code != 0 and "--learn-levels" in res.output
    res = CliRunner().invoke(app, [*args, "--runs", "2", "--learn-levels", str(out_file)])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    out = json.loads(lines[-1])
    learnt = out["learnt_failure_levels"]
    assert learnt["file"] == str(out_file) and sum(learnt["failures_observed"].values()) > 0
    tables = tomllib.loads(out_file.read_text())["rul"]["failure"]
    rul = RulConfig.model_validate({"failure": tables})
    for kind, (low, level, high) in learnt["levels"].items():
        f = rul.failure[kind]
        assert (f.low, f.level, f.high) == (low, level, high)
