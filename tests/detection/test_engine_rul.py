"""RUL of the streaming engine: failure levels per kind in units of the healthy baseline."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from detection.engine_config import RulConfig, load_engine_policy
from detection.engine_health import HealthTracker
from detection.errors import InvalidInputError
from detection.rul import TrendRul


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
        tr.add(1, "J2", ti, 20.0 + ti / 100, {"vibration": vib, "torque": 1.1})
        tr.add(1, "J3", ti, 2.0 + (ti - 500) / 100, {"temperature": 1.2})
    by_comp = {u.component: u for u in tr.estimate(800.0)}
    vib, temp = by_comp["J2"], by_comp["J3"]
    assert vib.rul_s is not None and abs(vib.rul_s - 201.0) < 40.0
    assert vib.rul_low_s is not None and vib.rul_high_s is not None
    assert vib.rul_low_s <= 201.0 <= vib.rul_high_s
    assert 0.0 < vib.health < 0.5 and 3.5 < vib.indicator < 5.0
    # fallback kind: score 5 at t = 800 rising 0.01/s reaches 8 in 300 s
    assert temp.rul_s is not None and abs(temp.rul_s - 300.0) < 5.0


def test_tracker_skips_a_batch_without_the_quantity():
    tr = HealthTracker(_cfg())
    tr.start(1, "J2", "vibration_high")
    for ti in range(20):
        tr.add(1, "J2", float(ti), 3.0, {"torque": 1.5})
    assert tr.estimate(100.0) == []


def test_failure_levels_must_be_ordered_and_the_packaged_policy_loads():
    with pytest.raises(ValidationError):
        RulConfig.model_validate({"failure": {"vibration_high": {
            "quantity": "vibration", "level": 9.0, "low": 5.2, "high": 8.8}}})
    f = load_engine_policy(None).rul.failure["vibration_high"]
    assert f.quantity == "vibration" and f.low <= f.level <= f.high
