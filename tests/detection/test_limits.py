"""RobustLimits: batch and streaming scores, floors, persistence, errors."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

import detection.limits
from detection.errors import DetectionError, InvalidInputError, NotFittedError, StateError
from detection.limits import RobustLimits


@pytest.fixture
def healthy() -> np.ndarray:
    rng = np.random.default_rng(42)
    return rng.normal([40.0, 3.0, 100.0], [0.5, 0.1, 2.0], size=(2000, 3))


def test_docstring_examples():
    result = doctest.testmod(detection.limits)
    assert result.attempted > 0 and result.failed == 0


def test_learns_median_and_normal_scale(healthy):
    lim = RobustLimits().fit(healthy)
    np.testing.assert_allclose(lim.median_, [40.0, 3.0, 100.0], rtol=0.01)
    np.testing.assert_allclose(lim.scale_, [0.5, 0.1, 2.0], rtol=0.1)
    assert lim.columns_ == ("x0", "x1", "x2")


def test_score_is_distance_in_limit_units(healthy):
    lim = RobustLimits(k=6.0).fit(healthy)
    x = lim.median_ + np.array([0.0, 0.0, 12.0 * lim.scale_[2]])
    cols = lim.score_columns(x[None, :])
    np.testing.assert_allclose(cols[0], [0.0, 0.0, 2.0])
    assert lim.score_samples(x[None, :])[0] == pytest.approx(2.0)
    assert lim.predict(np.vstack([lim.median_, x])).tolist() == [False, True]


def test_healthy_data_rarely_breaks_limits(healthy):
    lim = RobustLimits(k=6.0).fit(healthy[:1000])
    assert lim.predict(healthy[1000:]).mean() < 0.001


def test_a_spike_in_training_does_not_hide_the_next_one(healthy):
    train = healthy.copy()
    train[::50, 0] = 500.0  # 2% garbage
    lim = RobustLimits().fit(train)
    spike = lim.median_.copy()
    spike[0] += 10.0
    assert lim.score_columns(spike[None, :])[0, 0] > 2.0


def test_constant_signal_gets_a_floor_not_an_infinite_score():
    X = np.column_stack([np.full(100, 1000.0), np.zeros(100)])
    lim = RobustLimits(k=6.0, min_scale=1e-6, rel_min_scale=1e-3).fit(X)
    np.testing.assert_allclose(lim.scale_, [1.0, 1e-6])
    score = lim.score_columns([[1003.0, 0.0]])
    assert np.isfinite(score).all()
    assert score[0, 0] == pytest.approx(0.5)


def test_nan_is_missing_not_normal(healthy):
    lim = RobustLimits().fit(healthy)
    X = np.array([[np.nan, 3.0, 100.0], [np.nan, np.nan, np.nan]])
    scores = lim.score_samples(X)
    assert np.isfinite(scores[0]) and np.isnan(scores[1])


def test_fleet_tick_is_vectorised(healthy):
    lim = RobustLimits().fit(np.tile(healthy[:, :1], (1, 50)))
    tick = np.random.default_rng(1).normal(40.0, 0.5, size=(200, 50))
    assert lim.score_columns(tick).shape == (200, 50)
    assert lim.score_samples(tick).shape == (200,)


def test_stream_warms_up_then_scores():
    lim = RobustLimits(min_samples=30, refresh_every=10)
    rng = np.random.default_rng(0)
    assert lim.score_one({"a": 1.0}) is None
    for i in range(29):
        lim.learn_one({"a": rng.normal(10.0, 1.0)})
        assert lim.score_one({"a": 10.0}) is None, i
    for _ in range(500):
        lim.learn_one({"a": rng.normal(10.0, 1.0), "b": None})
    usual = lim.score_one({"a": 10.0})
    assert usual is not None and usual < 0.1
    unusual = lim.score_one({"a": 30.0})
    assert unusual is not None and unusual > 2.0
    assert lim.score_one_columns({"a": 30.0, "zz": 1.0}).keys() == {"a"}
    assert lim.median_[0] == pytest.approx(10.0, abs=0.2)


def test_stream_after_fit_uses_column_names(healthy):
    lim = RobustLimits().fit(healthy, columns=["t", "i", "p"])
    cols = lim.score_one_columns({"t": 40.0, "i": lim.median_[1] + 6 * 3 * lim.scale_[1]})
    assert cols["i"] == pytest.approx(3.0)
    assert lim.score_one({"t": 40.0}) == pytest.approx(cols["t"])


def test_state_round_trips_through_json(healthy):
    lim = RobustLimits(k=4.0).fit(healthy, columns=["t", "i", "p"])
    state = json.loads(json.dumps(lim.to_state()))
    back = RobustLimits.from_state(state)
    assert back.get_params() == lim.get_params()
    assert back.columns_ == lim.columns_
    np.testing.assert_array_equal(back.score_samples(healthy), lim.score_samples(healthy))


@pytest.mark.parametrize("state", [
    {"detector": "Other", "format": 1},
    {"detector": "RobustLimits", "format": 99},
    {"detector": "RobustLimits", "format": 1, "params": {}, "columns": ["a"],
     "median": [1.0, 2.0], "scale": [1.0], "n_samples": [1]},
    {"detector": "RobustLimits", "format": 1, "params": {}, "columns": ["a"],
     "median": [1.0], "scale": [0.0], "n_samples": [1]},
    {"detector": "RobustLimits", "format": 1, "params": {"nope": 1}, "columns": [],
     "median": [], "scale": [], "n_samples": []},
])
def test_bad_state_is_refused(state):
    with pytest.raises(StateError):
        RobustLimits.from_state(state)


def test_scoring_before_fit_raises():
    with pytest.raises(NotFittedError) as info:
        RobustLimits().score_samples([[1.0]])
    assert isinstance(info.value, DetectionError)
    with pytest.raises(NotFittedError):
        RobustLimits().to_state()


def test_init_stores_params_unchanged_and_fit_validates():
    lim = RobustLimits(k=-1.0)
    assert lim.k == -1.0 and "k=-1.0" in repr(lim)
    with pytest.raises(InvalidInputError):
        lim.fit([[1.0]])


def test_wrong_width_is_a_clear_error(healthy):
    with pytest.raises(InvalidInputError, match="expected 3 features"):
        RobustLimits().fit(healthy).score_samples([[1.0, 2.0]])


@pytest.mark.parametrize("X", [[[np.nan], [np.nan]], [["a", "b"]], np.zeros((2, 2, 2))])
def test_unusable_training_data_is_a_clear_error(X):
    with pytest.raises(InvalidInputError):
        RobustLimits().fit(X)
