"""Rate-of-change, drift charts, stuck and stale sensors, seasonal limits, changepoints."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import detection.changepoint
import detection.drift
import detection.rate
import detection.seasonal
import detection.sensorhealth
from detection.changepoint import MeanShiftChangepoint, RefractoryTrigger, flag_changepoints
from detection.drift import CusumDrift, EwmaDrift
from detection.errors import InvalidInputError, NotFittedError
from detection.rate import RateOfChangeLimits
from detection.seasonal import SeasonalRobustZ
from detection.sensorhealth import FlatLine, StaleData


@pytest.mark.parametrize("mod", [detection.changepoint, detection.drift, detection.rate,
                                 detection.seasonal, detection.sensorhealth])
def test_docstring_examples(mod):
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0


def test_rate_limits_flag_a_fast_move_inside_static_limits():
    rng = np.random.default_rng(0)
    t = np.arange(0.0, 1000.0, 2.0)  # 2 s sampling: rates are per second
    temp = 40 + 0.002 * t + rng.normal(0, 0.02, t.size)
    det = RateOfChangeLimits(k=6.0).fit(temp[:, None], t=t)
    assert det.limits_.median_[0] == pytest.approx(0.001, abs=0.002)
    steady = det.score_samples(temp[:, None], t=t)
    assert np.isnan(steady[0]) and np.nanmax(steady) < 1
    jump = temp.copy()
    jump[300] += 1.0  # +1 K in 2 s, well inside any static limit of a 40-45 degC joint
    scores = det.score_samples(jump[:, None], t=t)
    assert scores[300] > 1 and scores[301] > 1 and np.nanmax(np.delete(scores, [300, 301])) < 1


def test_rate_streaming_warms_up_then_scores_per_second():
    det = RateOfChangeLimits(k=6.0, min_samples=20)
    assert det.score_one({"a": 1.0}, t=0.0) is None
    rng = np.random.default_rng(1)
    for i, v in enumerate(np.cumsum(rng.normal(0, 0.1, 100))):
        det.learn_one({"a": float(v)}, t=float(i))
    last = det._last["a"][0]
    small = det.score_one({"a": last + 0.01}, t=100.0)
    assert small is not None and small < 1
    fast = det.score_one({"a": last + 5.0}, t=100.0)
    assert fast is not None and fast > 1
    # the same move spread over 100 s is slow enough
    slow = det.score_one({"a": last + 5.0}, t=199.0)
    assert slow is not None and slow < 1
    with pytest.raises(InvalidInputError):
        det.fit([[1.0], [2.0]], t=[5.0, 1.0])


@pytest.mark.parametrize("chart", [EwmaDrift(lam=0.1, L=3.0), CusumDrift(k=0.5, h=5.0)])
def test_drift_charts_find_a_one_sigma_shift_that_limits_miss(chart):
    rng = np.random.default_rng(2)
    chart.fit(rng.normal(20.0, 2.0, (2000, 1)))
    healthy = chart.score_samples(rng.normal(20.0, 2.0, (500, 1)))
    shifted = chart.score_samples(rng.normal(22.0, 2.0, (500, 1)))  # +1 sigma
    assert np.mean(healthy > 1) < 0.02
    # a single shifted value is rarely unusual (|x - 20| / 2 > 3 for 2 % of them), the
    # accumulated evidence is
    assert np.mean(shifted[100:] > 1) > 0.8
    with pytest.raises(NotFittedError):
        type(chart)().score_samples([[1.0]])


def test_drift_streaming_matches_batch_and_warms_up():
    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 1.0, (300, 2))
    batch = CusumDrift().fit(X[:100], columns=["a", "b"])
    stream = CusumDrift(warmup=100)
    for row in X[:100]:
        assert stream.score_one({"a": row[0], "b": row[1]}) is None
        stream.learn_one({"a": row[0], "b": row[1]})
    np.testing.assert_allclose(stream.mean_, batch.mean_)
    expected = batch.score_samples(X[100:])
    got: list[float] = []
    for row in X[100:]:
        x = {"a": float(row[0]), "b": float(row[1])}
        score = stream.score_one(x)
        assert score is not None  # warmed up
        got.append(score)
        stream.learn_one(x)
    np.testing.assert_allclose(got, expected)


def test_flat_line_flags_a_frozen_signal_and_not_a_noisy_one():
    rng = np.random.default_rng(4)
    noisy = rng.normal(0, 1, 200)
    frozen = noisy.copy()
    frozen[100:] = frozen[100]
    det = FlatLine(n_samples=20, tolerance=1e-6)
    assert np.nanmax(det.score_samples(noisy[:, None])) < 0.2
    scores = det.score_samples(frozen[:, None])
    assert scores[119] < 1 <= scores[120]
    stream = FlatLine(n_samples=20, tolerance=1e-6)
    for v in frozen[:150]:
        stream.learn_one({"s": float(v)})
    assert stream.score_one({"s": float(frozen[150])}) == pytest.approx(scores[150])
    with pytest.raises(InvalidInputError):
        FlatLine(n_samples=0).score_samples([[1.0]])


def test_stale_data_uses_time_not_sample_counts():
    det = StaleData(max_age_s=5.0)
    det.learn_one({"a": 1.0, "b": 2.0}, t=0.0)
    for t in range(1, 20):
        det.learn_one({"a": float(t), "b": None}, t=float(t))
    assert det.stale_signals(t=20.0) == ["b"]
    assert det.score_one({"a": 1.0}, t=20.0) == pytest.approx(4.0)
    assert det.score_one({"a": 1.0, "b": 3.0}, t=20.0) == 0.0
    with pytest.raises(InvalidInputError, match="time"):
        det.learn_one({"a": 1.0})


def test_seasonal_limits_catch_a_value_normal_elsewhere_in_the_cycle():
    rng = np.random.default_rng(5)
    phase = np.tile(np.arange(200) / 200, 30)
    current = 2.0 + 6.0 * np.sin(np.pi * phase) + rng.normal(0, 0.1, phase.size)
    det = SeasonalRobustZ(n_phases=20).fit(current[:, None], phase=phase)
    healthy = det.score_samples(current[:, None], phase=phase)
    assert np.nanquantile(healthy, 0.999) < 1
    # 8 A is the peak at mid-cycle, far too much at the start of the cycle
    assert det.score_samples([[8.0]], phase=[0.5])[0] < 1
    assert det.score_samples([[8.0]], phase=[0.01])[0] > 2
    with pytest.raises(InvalidInputError, match="phase"):
        det.score_samples([[1.0]], phase=[1.0])


def test_seasonal_streaming_bin_warms_up_on_its_own():
    det = SeasonalRobustZ(n_phases=4, min_samples=10)
    for i in range(40):
        det.learn_one({"a": 1.0 + 0.01 * (i % 3)}, phase=0.1)
    assert det.score_one({"a": 1.0}, phase=0.1) is not None
    assert det.score_one({"a": 1.0}, phase=0.6) is None  # that bin saw nothing yet


def test_changepoint_streaming_equals_batch_and_finds_start_and_end():
    rng = np.random.default_rng(6)
    X = rng.normal(0, 1, (600, 3))
    X[300:400, 1] += 4.0  # a fault from 300 to 400
    det = MeanShiftChangepoint(short_window=5, long_window=60).fit(X[:200],
                                                                   columns=["a", "b", "c"])
    batch = det.score_samples(X)
    stream = MeanShiftChangepoint(short_window=5, long_window=60).fit(X[:200],
                                                                      columns=["a", "b", "c"])
    got = []
    for row in X:
        x = dict(zip(["a", "b", "c"], map(float, row), strict=True))
        got.append(stream.score_one(x))
        stream.learn_one(x)
    assert got[:64] == [None] * 64
    np.testing.assert_allclose(np.array(got[64:], dtype=float), batch[64:])
    # mean of 3 chi2(1) under no change: P(score > 6) = P(chi2(3) > 18) = 4e-4 per row
    limit = 6.0
    flags = np.flatnonzero(flag_changepoints(batch, limit=limit, refractory=20))
    assert any(300 <= f <= 310 for f in flags) and any(400 <= f <= 410 for f in flags)
    # nothing before the fault; after each step the score stays high for 65 rows, so the
    # refractory time lets it report again, never after the windows have passed the step
    assert flags.min() >= 300 and flags.max() <= 465


def test_changepoint_warmup_without_fit_and_refractory_trigger():
    det = MeanShiftChangepoint(short_window=2, long_window=5, warmup=20)
    rng = np.random.default_rng(7)
    for v in rng.normal(0, 1, 20):
        assert det.score_one({"a": float(v)}) is None
        det.learn_one({"a": float(v)})
    assert det.scale_[0] > 0 and det.columns_ == ("a",)
    with pytest.raises(InvalidInputError):
        RefractoryTrigger(limit=1.0, refractory=-1)
