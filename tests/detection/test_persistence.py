"""Pickled detectors carry the code version, score identically, and warn on a mismatch."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import detection.library.base
from detection.errors import InconsistentVersionWarning
from detection.library.changepoint import MeanShiftChangepoint
from detection.library.health import HealthIndex
from detection.library.iforest import IsolationForestDetector
from detection.library.pca import PcaT2Q
from detection.library.rul import TrendRul

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 3))


@pytest.mark.parametrize("det", [PcaT2Q(), IsolationForestDetector(random_state=0),
                                 MeanShiftChangepoint()],
                         ids=lambda d: type(d).__name__)
def test_round_trip_keeps_params_state_and_scores(det):
    det.fit(X[:200])
    copy = pickle.loads(pickle.dumps(det))
    assert copy.get_params() == det.get_params()
    np.testing.assert_array_equal(copy.score_samples(X[200:]), det.score_samples(X[200:]))


def test_pickle_records_the_code_version():
    state = PcaT2Q().fit(X).__getstate__()
    assert state["_robowatch_version"] == detection.library.base.code_version()
    assert "_robowatch_version" not in vars(pickle.loads(pickle.dumps(PcaT2Q().fit(X))))


def test_loading_a_model_of_another_version_warns(monkeypatch):
    blob = pickle.dumps(TrendRul(failure_level=5.0).fit([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]))
    monkeypatch.setattr(detection.library.base, "code_version", lambda: "9.9.9")
    with pytest.warns(InconsistentVersionWarning, match="9.9.9") as record:
        model = pickle.loads(blob)
    warning = record[0].message
    assert isinstance(warning, InconsistentVersionWarning)
    assert warning.pickled_version != "9.9.9"
    assert model.predict().rul == pytest.approx(2.0)


def test_streaming_state_survives_a_pickle():
    det = HealthIndex(failure_level=3.0).fit([1.0])
    assert pickle.loads(pickle.dumps(det)).health([2.0])[0] == pytest.approx(0.5)
    det2 = MeanShiftChangepoint(short_window=2, long_window=5, warmup=10)
    for v in RNG.normal(size=30):
        det2.learn_one({"a": float(v)})
    copy = pickle.loads(pickle.dumps(det2))
    assert copy.score_one({"a": 3.0}) == det2.score_one({"a": 3.0}) is not None
