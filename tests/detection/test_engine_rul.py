"""RUL of the streaming engine: failure levels per kind in units of the healthy baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from detection.engine.config import RulConfig, load_engine_policy
from detection.engine.health import HealthTracker, QuantityLevel
from detection.engine.rul_levels import (
    FailureObservation,
    failure_levels_toml,
    learn_failure_levels,
)
from detection.errors import InvalidInputError
from detection.library.rul import TrendRul


def _gear_wear(severity: float, t_fail: float, t: np.ndarray, rng: np.random.Generator):
    # the simulator's gearbox_wear signature, in units of the as-new vibration
    p = np.clip(t / t_fail, 0, 1)
    return 1.0 + 6.0 * severity * p**2 + rng.normal(0, 0.05, t.size)


def test_quadratic_model_finds_the_crossing_of_accelerating_wear():
    rng = np.random.default_rng(1)
    t = np.arange(300.0, 900.0)   # fitted from half to nine tenths of a 1000 s life
    y = _gear_wear(1.0, 1000.0, t, rng)
    quad = TrendRul(failure_level=7.0, model="quadratic", offset=1.0,
                    random_state=0).fit(t, y).predict()
    lin = TrendRul(failure_level=7.0, random_state=0).fit(t, y).predict()
    assert abs(quad.rul - 100.0) < 15.0
    assert quad.low <= 100.0 <= quad.high
    assert abs(lin.rul - 100.0) > abs(quad.rul - 100.0)  # a line misses the acceleration


def test_failure_range_widens_the_band_to_cover_the_severity_spread():
    rng = np.random.default_rng(2)
    t = np.arange(300.0, 700.0)
    covered_narrow = covered_wide = 0
    for severity in (0.8, 1.0, 1.2):  # inside the central 80 % of the failure range
        y = _gear_wear(severity, 1000.0, t, rng)
        true_rul = 1000.0 - t[-1]
        narrow = TrendRul(failure_level=7.0, model="quadratic", offset=1.0,
                          random_state=0).fit(t, y).predict()
        wide = TrendRul(failure_level=7.0, model="quadratic", offset=1.0,
                        failure_range=(5.2, 8.8), random_state=0).fit(t, y).predict()
        assert wide.high - wide.low > narrow.high - narrow.low
        covered_narrow += narrow.low <= true_rul <= narrow.high
        covered_wide += wide.low <= true_rul <= wide.high
    assert covered_wide == 3 and covered_narrow < 3


def test_bad_model_settings_are_rejected():
    t = np.arange(20.0)
    with pytest.raises(InvalidInputError, match="quadratic"):
        TrendRul(failure_level=5.0, model="cubic").fit(t, t)
    with pytest.raises(InvalidInputError, match="failure_range"):
        TrendRul(failure_level=5.0, failure_range=(6.0, 8.0)).fit(t, t)
    with pytest.raises(InvalidInputError, match="offset"):
        TrendRul(failure_level=0.5, model="quadratic", offset=1.0).fit(t, t + 2)


def _cfg() -> RulConfig:
    return RulConfig.model_validate({
        "kinds": ["vibration_high", "temperature_high"], "failure_score": 8.0,
        "every_s": 10.0, "min_points": 10, "n_bootstrap": 50,
        "failure": {"vibration_high": {"quantity": "vibration", "model": "quadratic",
                                       "level": 7.0, "low": 5.2, "high": 8.8}}})


def test_tracker_uses_the_kinds_quantity_ratio_and_falls_back_to_the_score():
    tr = HealthTracker(_cfg())
    tr.start(1, "J2", "vibration_high")
    tr.start(1, "J3", "temperature_high")
    rng = np.random.default_rng(3)
    for ti in np.arange(500.0, 800.0, 1.0):
        vib = float(_gear_wear(1.0, 1000.0, np.array([ti]), rng)[0])
        # the score is in other units and would say "failed" long ago (> 8)
        tr.add(1, "J2", ti, 20.0 + ti / 100,
               {"vibration": QuantityLevel(value=vib, healthy=1.0),
                "torque": QuantityLevel(value=1.1, healthy=1.0)})
        tr.add(1, "J3", ti, 2.0 + (ti - 500) / 100,
               {"temperature": QuantityLevel(value=60.0, healthy=50.0)})
    by_comp = {u.component: u for u in tr.estimate(800.0)}
    gear, temp = by_comp["J2"], by_comp["J3"]
    assert gear.rul_s is not None and abs(gear.rul_s - 201.0) < 40.0
    assert gear.rul_low_s is not None and gear.rul_high_s is not None
    assert gear.rul_low_s <= 201.0 <= gear.rul_high_s
    assert 0.0 < gear.health < 0.5 and 3.5 < gear.indicator < 5.0
    # fallback kind: score 5 at t = 800 rising 0.01/s reaches 8 in 300 s
    assert temp.rul_s is not None and abs(temp.rul_s - 300.0) < 5.0


def test_tracker_skips_a_batch_without_the_quantity():
    tr = HealthTracker(_cfg())
    tr.start(1, "J2", "vibration_high")
    for ti in range(20):
        tr.add(1, "J2", float(ti), 3.0, {"torque": QuantityLevel(value=1.5, healthy=1.0)})
    assert tr.estimate(100.0) == []


def test_failure_levels_must_be_ordered_and_the_packaged_policy_loads():
    with pytest.raises(ValidationError):
        RulConfig.model_validate({"failure": {"vibration_high": {
            "quantity": "vibration", "level": 9.0, "low": 5.2, "high": 8.8}}})
    for kind, f in load_engine_policy(None).rul.failure.items():
        assert f.low <= f.level <= f.high, kind
    assert load_engine_policy(None).rul.failure["vibration_high"].quantity == "vibration"


def _abs_cfg() -> RulConfig:
    return RulConfig.model_validate({
        "kinds": ["following_error_low"], "every_s": 10.0, "min_points": 10,
        "n_bootstrap": 50,
        "failure": {"following_error_low": {"quantity": "following_error", "scale": "absolute",
                                            "level": 2.0, "low": 1.6, "high": 2.4}}})


def test_absolute_scale_extrapolates_the_value_in_its_unit_from_the_healthy_floor():
    # An encoder drifting 2 deg over a 400 s life, read as mean |following error| (deg) on
    # top of a healthy 0.1 deg servo lag: the failure is at a physical offset, not a ratio.
    tr = HealthTracker(_abs_cfg())
    tr.start(7, "J4", "following_error_low")
    rng = np.random.default_rng(4)
    for ti in np.arange(0.0, 200.0, 1.0):
        value = 0.1 + 2.0 * ti / 400.0 + rng.normal(0, 0.02)
        tr.add(7, "J4", ti, 50.0, {"following_error": QuantityLevel(value=value, healthy=0.1)})
    (upd,) = tr.estimate(200.0)
    assert upd.rul_s is not None and abs(upd.rul_s - 200.0) < 25.0
    assert upd.rul_low_s is not None and upd.rul_high_s is not None
    assert upd.rul_low_s <= upd.rul_s <= upd.rul_high_s
    assert upd.rul_low_s < 200.0 < upd.rul_high_s   # 1.6..2.4 deg spans the truth
    # health: 1 at the 0.1 deg floor, 0 at 2 deg; ~1.1 deg now is about half way
    assert 0.4 < upd.health < 0.6
    recent = tr.recent(7, "J4")
    assert recent is not None and recent[0] == "following_error_low"


def test_absolute_level_below_the_healthy_floor_gives_no_estimate():
    tr = HealthTracker(_abs_cfg())
    tr.start(1, "J1", "following_error_low")
    for ti in range(30):
        tr.add(1, "J1", float(ti), 2.0,
               {"following_error": QuantityLevel(value=3.0 + ti / 10, healthy=2.5)})
    assert tr.estimate(100.0) == []


def test_ratio_failure_levels_must_exceed_as_new():
    with pytest.raises(ValidationError, match="exceed 1"):
        RulConfig.model_validate({"failure": {"current_high": {
            "quantity": "current", "level": 1.5, "low": 0.9, "high": 2.0}}})


def test_failure_levels_learnt_from_histories_round_trip_through_the_policy_file(tmp_path):
    template = load_engine_policy(None).rul.failure
    seen = ([FailureObservation(kind="current_high", indicator=v) for v in (1.4, 1.9, 2.6)]
            + [FailureObservation(kind="temperature_high", indicator=v) for v in (95.0, 120.0)]
            + [FailureObservation(kind="current_high", indicator=float("nan")),
               FailureObservation(kind="unknown_kind", indicator=3.0)])
    learnt = learn_failure_levels(seen, template)
    cur = learnt["current_high"]
    assert (cur.level, cur.low, cur.high) == (1.9, 1.4, 2.6)
    assert cur.quantity == template["current_high"].quantity
    assert learnt["temperature_high"] == template["temperature_high"]  # 2 < 3: prior kept
    text = failure_levels_toml(learnt, {"current_high": 3})
    base = (Path(__file__).parents[2] / "detection/policies/engine.toml").read_text()
    start, end = base.index("[rul.failure."), base.index("# Upper limits")
    path = tmp_path / "engine.toml"
    path.write_text(base[:start] + text + "\n" + base[end:])
    assert load_engine_policy(path).rul.failure == learnt


def test_band_always_contains_its_own_estimate():
    # a skewed failure range: the central level sits near the low end of the range
    t = np.arange(100.0)
    y = 1.0 + 0.02 * t
    est = TrendRul(failure_level=3.2, failure_range=(3.0, 12.0), n_bootstrap=30,
                   confidence=0.5, random_state=0).fit(t, y).predict()
    assert est.low <= est.rul <= est.high
