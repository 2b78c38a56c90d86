"""The streaming engine's core on synthetic batches (no database)."""

import numpy as np
import pytest

from detection.engine import AnomalyClosed, AnomalyOpened, BaselineLearned, Batch, DetectionEngine
from detection.engine.config import EnginePolicy, load_engine_policy

SIGNALS = {1: "J3.temperature", 2: "J3.current", 3: "cycle_count"}


def make_engine(**engine_overrides) -> DetectionEngine:
    base = load_engine_policy()
    policy = base.model_copy(update={"engine": base.engine.model_copy(update=engine_overrides)})
    assert isinstance(policy, EnginePolicy)
    return DetectionEngine(policy=policy, signal_names=SIGNALS, robot_lines={7: 1, 8: 1})


def ticks(t0, t1, rate, robot, temp_fn, rng):
    rows = []
    for t in np.arange(t0, t1, 1 / rate):
        rows.append((t, robot, 1, temp_fn(t) + rng.normal(0, 0.2)))
        rows.append((t, robot, 2, 5.0 + rng.normal(0, 0.1)))
        rows.append((t, robot, 3, t * 10))  # a counter: never monitored
    return rows


def run(engine, rows, step=1.0):
    events = []
    t = min(r[0] for r in rows)
    end = max(r[0] for r in rows)
    while t <= end:
        chunk = [r for r in rows if t <= r[0] < t + step]
        events += engine.process(Batch.from_rows(chunk), now=t + step)
        t += step
    return events


def test_learns_baseline_then_opens_and_closes_one_anomaly_for_a_fault():
    rng = np.random.default_rng(0)
    eng = make_engine(baseline_s=10, breach_s=1.0, recovery_s=3.0)

    def temp(t):  # healthy 40 C, overheating from 20 s to 40 s
        return 40.0 + (25.0 if 20 <= t < 40 else 0.0)

    events = run(eng, ticks(0, 60, 10, 7, temp, rng))
    learned = [e for e in events if isinstance(e, BaselineLearned)]
    opened = [e for e in events if isinstance(e, AnomalyOpened)]
    closed = [e for e in events if isinstance(e, AnomalyClosed)]
    assert len(learned) == 1 and learned[0].robot_id == 7
    assert "cycle_count" not in learned[0].state["columns"]
    assert [(e.component, e.kind, e.impact) for e in opened] == [
        ("J3", "temperature_high", "core-module")
    ]
    assert 20.0 <= opened[0].started_at <= 21.5
    assert opened[0].evidence["signal"] == "J3.temperature" and opened[0].evidence["window"]
    assert [(e.component, e.kind) for e in closed] == [("J3", "temperature_high")]
    assert 40.0 <= closed[0].ended_at <= 45.0


def test_short_spikes_and_flapping_do_not_open_anomalies():
    rng = np.random.default_rng(1)
    eng = make_engine(baseline_s=10, breach_s=2.0, spike_count=0)

    def temp(t):  # 0.5 s spikes every 3 s: never 2 s outside the limits in a row
        return 40.0 + (30.0 if t > 15 and (t % 3) < 0.5 else 0.0)

    events = run(eng, ticks(0, 60, 10, 7, temp, rng))
    assert not [e for e in events if isinstance(e, AnomalyOpened)]


def test_silent_robot_gets_one_communication_loss_and_it_closes_on_return():
    rng = np.random.default_rng(2)
    eng = make_engine(baseline_s=5, stale_s=5.0)
    rows = ticks(0, 10, 5, 8, lambda t: 40.0, rng)
    events = run(eng, rows)
    events += eng.process(Batch.from_rows([]), now=14.0)
    events += eng.process(Batch.from_rows([]), now=20.0)
    events += eng.process(Batch.from_rows([]), now=25.0)
    opened = [e for e in events if isinstance(e, AnomalyOpened)]
    assert [(e.kind, e.impact) for e in opened] == [("communication_loss", "stoppage")]
    back = eng.process(Batch.from_rows(ticks(30, 31, 5, 8, lambda t: 40.0, rng)), now=31.0)
    assert [e.kind for e in back if isinstance(e, AnomalyClosed)] == ["communication_loss"]


def test_line_rate_limit_suppresses_alert_storms():
    rng = np.random.default_rng(3)
    eng = make_engine(baseline_s=5, breach_s=0.5, line_alert_limit=1)
    rows = ticks(0, 30, 5, 7, lambda t: 40.0 + (20 if t > 10 else 0), rng)
    rows += ticks(0, 30, 5, 8, lambda t: 40.0 + (20 if t > 10 else 0), rng)
    rows.sort()
    events = run(eng, rows)
    assert len([e for e in events if isinstance(e, AnomalyOpened)]) == 1
    assert eng.suppressed > 0


def test_restored_baseline_is_used_without_relearning():
    rng = np.random.default_rng(4)
    first = make_engine(baseline_s=5)
    learned = [e for e in run(first, ticks(0, 10, 5, 7, lambda t: 40.0, rng))
               if isinstance(e, BaselineLearned)][0]
    second = make_engine(baseline_s=5)
    second.restore_baseline(7, learned.state)
    events = run(second, ticks(100, 110, 5, 7, lambda t: 70.0, rng))
    assert not [e for e in events if isinstance(e, BaselineLearned)]
    assert [e.kind for e in events if isinstance(e, AnomalyOpened)] == ["temperature_high"]


def test_bad_policy_is_refused(tmp_path):
    from detection.errors import InvalidInputError

    bad = tmp_path / "engine.toml"
    bad.write_text('[impact]\ntemperature = "catastrophic"\ndefault = "minor"\n')
    with pytest.raises(InvalidInputError, match="catastrophic"):
        load_engine_policy(bad)


def test_static_limit_of_the_robot_model_fires_before_any_baseline():
    rng = np.random.default_rng(5)
    eng = make_engine(baseline_s=600, breach_s=1.0)  # no baseline within this test
    events = run(eng, ticks(0, 10, 5, 7, lambda t: 125.0 if t > 3 else 40.0, rng))
    assert not [e for e in events if isinstance(e, BaselineLearned)]
    opened = [e for e in events if isinstance(e, AnomalyOpened)]
    assert [(e.kind, e.evidence["static_high"]) for e in opened] == [("temperature_high", 110.0)]
