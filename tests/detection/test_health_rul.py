"""Health index per component, remaining useful life with its band."""

from __future__ import annotations

import numpy as np
import pytest

from detection.errors import InvalidInputError
from detection.library.health import HealthIndex, component_health
from detection.library.rul import TrendRul, theil_sen


def test_health_index_per_component():
    rng = np.random.default_rng(2)
    healthy = rng.normal(1.0, 0.1, 500)
    hi = HealthIndex(failure_level=3.0).fit(healthy)
    h = hi.health([1.0, 2.0, 3.5, np.nan])
    assert h[0] == pytest.approx(1.0, abs=0.02) and h[1] == pytest.approx(0.5, abs=0.02)
    assert h[2] == 0.0 and np.isnan(h[3])
    assert component_health({"J1": hi}, {"J1": 2.0})["J1"] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(InvalidInputError, match="exceed"):
        HealthIndex(failure_level=0.5).fit(healthy)


def test_theil_sen_ignores_outliers_that_break_least_squares():
    rng = np.random.default_rng(3)
    t = np.arange(100.0)
    y = 0.5 * t + rng.normal(0, 0.2, 100)
    y[::10] += 50  # 10 % wild values
    slope, _ = theil_sen(t, y)
    assert slope == pytest.approx(0.5, abs=0.02)
    assert np.polyfit(t, y, 1)[0] != pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("model", ["linear", "exponential"])
def test_rul_band_covers_the_true_crossing(model):
    rng = np.random.default_rng(4)
    t = np.arange(0.0, 200.0)
    if model == "linear":
        truth = 1.0 + 0.02 * t
        fail, true_cross = 9.0, 400.0
    else:
        truth = 0.5 + np.exp(0.01 * t)
        fail, true_cross = 0.5 + np.exp(3.0), 300.0
    y = truth + rng.normal(0, 0.05, t.size)
    est = TrendRul(failure_level=fail, model=model, offset=0.0 if model == "linear" else 0.5,
                   random_state=0).fit(t, y).predict()
    true_rul = true_cross - t[-1]
    assert est.low <= true_rul <= est.high
    assert est.rul == pytest.approx(true_rul, rel=0.1)
    assert est.high - est.low < 0.5 * true_rul


def test_rul_is_infinite_without_degradation_and_rejects_bad_input():
    rng = np.random.default_rng(5)
    t = np.arange(50.0)
    est = TrendRul(failure_level=5.0, random_state=0).fit(t, 1.0 - 0.01 * t
                                                         + rng.normal(0, 0.01, 50)).predict()
    assert est.rul == float("inf")
    with pytest.raises(InvalidInputError):
        TrendRul(failure_level=5.0).fit([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="offset"):
        TrendRul(failure_level=5.0, model="exponential").fit(t, -np.ones(50))
