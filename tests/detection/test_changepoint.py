"""Mean-shift changepoints: streaming equals batch, warm-up, the refractory trigger."""

from __future__ import annotations

import numpy as np
import pytest

from detection.errors import InvalidInputError
from detection.library.changepoint import (
    MeanShiftChangepoint,
    RefractoryTrigger,
    flag_changepoints,
)


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
