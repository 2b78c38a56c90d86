"""A restarted engine that restores a level-only baseline learns the cycle limits afresh
(the second ``robowatch demo`` run: false torque anomalies on R-0201, machine tending)."""

from __future__ import annotations

from detection.engine import BaselineLearned
from detection.engine.config import load_engine_policy
from tests.detection.test_engine_fleet import START, Feed, fleet, opened

MACHINE_TENDING = {0: "machine-tending"}   # 30 s cycle, 40 % duty: the slowest to learn


def test_a_level_only_baseline_restored_later_learns_its_cycle_over_a_full_period():
    cycle_s = load_engine_policy().cycle.baseline_s
    first = Feed(fleet(1, programs=MACHINE_TENDING))
    # Stopped after the level limits and before the cycle limits (as a short first demo).
    learnt = [e for e in first.run(cycle_s * 0.75) if isinstance(e, BaselineLearned)]
    assert len(learnt) == 1 and learnt[0].state["cycle"]["learnt"] is False

    second = Feed(fleet(1, programs=MACHINE_TENDING))
    second.t = restart = START + 86_400.0   # the next day, same data directory
    second.engine.restore_baseline(1, learnt[0].state)
    events = second.run(cycle_s * 2)
    cycle = [e for e in events if isinstance(e, BaselineLearned)]
    assert len(cycle) == 1 and cycle[0].state["cycle"]["learnt"] is True
    # Learnt over a full period of the new run, not "completed" by the old run's start.
    assert cycle[0].trained_from >= restart
    assert cycle[0].trained_to - cycle[0].trained_from >= cycle_s
    assert opened(events) == []
