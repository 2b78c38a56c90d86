"""Metrics, PCA, thresholds, the offline monitor, CSV scoring, and the data benches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detection.errors import InvalidInputError, NotFittedError
from detection.library.csvscore import score_csv
from detection.library.metrics import binary_scores, nab_counts, nab_normalise
from detection.library.monitor import (
    load_changepoint_policy,
    load_policy,
    run_changepoint_monitor,
    run_monitor,
)
from detection.library.pca import PcaT2Q
from detection.library.stream import load_stream_policy

# ../shared/data beside the checkout (the project's shared material); a user's clone has none,
# and the tests that need it skip.
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_binary_scores_pool_and_rates():
    s = binary_scores([1, 1, 0, 0], [1, 0, 1, 0]) + binary_scores([1], [1])
    assert (s.tp, s.fp, s.fn, s.tn) == (2, 1, 1, 1)
    assert s.f1 == pytest.approx(2 / 3) and s.far == 0.5 and s.mar == pytest.approx(1 / 3)


def test_nab_perfect_null_and_false_positive():
    t = np.arange(300.0)
    cp = np.zeros(300, bool)
    cp[100] = True
    at_start = nab_normalise(nab_counts(t, cp, cp, window=60))
    assert at_start["standard"] == pytest.approx(100.0, abs=0.1)
    nothing = nab_normalise(nab_counts(t, cp, np.zeros(300, bool), window=60))
    assert nothing == {"standard": 0.0, "lowfp": 0.0, "lowfn": 0.0}
    fp = np.zeros(300, bool)
    fp[10] = True
    assert nab_normalise(nab_counts(t, cp, fp, window=60))["standard"] < 0


def test_pca_flags_broken_correlation_not_healthy_motion():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(1000, 1))
    X = np.hstack([t, -t, 0.5 * t]) + rng.normal(0, 0.05, (1000, 3))
    det = PcaT2Q(n_components=1).fit(X[:500])
    assert np.quantile(det.score_samples(X[500:]), 0.99) < 3
    assert det.score_samples([[1.0, 1.0, 0.5]])[0] > 20
    with pytest.raises(NotFittedError):
        PcaT2Q().score_samples(X)
    with pytest.raises(InvalidInputError):
        PcaT2Q(n_components=5).fit(X)


def test_monitor_is_causal():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    full = run_monitor(X, load_policy())
    X2 = X.copy()
    X2[550:] += 100.0  # the future changes, the past scores must not
    part = run_monitor(X2, load_policy())
    np.testing.assert_array_equal(full.score[:550], part.score[:550])
    assert part.is_anomaly[560:].all()


def test_changepoint_monitor_is_causal_and_policy_is_checked(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 3))
    X[550:, 0] += 10.0
    policy = load_changepoint_policy()
    full = run_changepoint_monitor(X, policy)
    X2 = X.copy()
    X2[600:] -= 50.0  # the future changes, the past must not
    part = run_changepoint_monitor(X2, policy)
    np.testing.assert_array_equal(full.is_changepoint[:600], part.is_changepoint[:600])
    assert full.is_changepoint[550:556].any() and not full.is_changepoint[400:550].any()
    bad = tmp_path / "cp.toml"
    bad.write_text("train_rows = 400\n")
    with pytest.raises(InvalidInputError, match="missing"):
        load_changepoint_policy(bad)


def test_csv_ignores_labels_and_keeps_every_row(tmp_path):
    rng = np.random.default_rng(1)
    n = 500
    df = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=n, freq="s").astype(str),
                       "a": rng.normal(size=n), "b": rng.normal(size=n),
                       "anomaly": rng.integers(0, 2, n), "label": 1})
    df.loc[450:, "a"] += 50
    df["b"] = df["b"].astype(object)
    df.loc[10, "b"] = "oops"
    src = tmp_path / "in.csv"
    df.to_csv(src, sep=";", index=False)
    out = tmp_path / "out.csv"
    summary = score_csv(src, out, load_stream_policy())
    assert summary.features == ["a", "b"]
    res = pd.read_csv(out)
    assert list(res.columns) == ["timestamp", "score", "is_anomaly"] and len(res) == n
    # one incident, opened within a few rows of the step; the warm-up rows are not scored
    assert res.is_anomaly.sum() == 1 and res.is_anomaly[450:456].sum() == 1
    assert res.score[:300].isna().all() and res.score[456:].min() > 0.9999
    assert summary.incidents == 1


def test_csv_without_numeric_columns_is_a_clear_error(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("ts,name\n" + "".join(f"{i},x\n" for i in range(500)))
    with pytest.raises(InvalidInputError, match="no numeric feature"):
        score_csv(src, tmp_path / "out.csv", load_stream_policy())


@pytest.mark.slow
def test_skab_beats_published_table():
    if not (DATA / "skab").is_dir():
        pytest.skip(f"SKAB data not found under {DATA / 'skab'}")
    from detection.benchmarks import skab as sk
    from detection.library.monitor import load_changepoint_policy

    files = sk.load_skab(DATA / "skab")
    iforest = sk.evaluate(files, sk.iforest_predictor).as_json()
    assert (round(iforest["f1"], 2), round(100 * iforest["far"], 2),
            round(100 * iforest["mar"], 2)) == sk.PUBLISHED_OUTLIER["Isolation forest"]
    # our NAB scoring is SKAB's: the published Isolation Forest row, to the last digit
    assert (iforest["nab_standard"], iforest["nab_lowfp"],
            iforest["nab_lowfn"]) == sk.PUBLISHED_NAB["Isolation forest"]
    ours = sk.evaluate(files, sk.monitor_predictor(load_policy()),
                       changepoints=sk.changepoint_predictor(load_changepoint_policy())).as_json()
    assert ours["f1"] >= 0.80 and ours["far"] <= 0.15 and ours["nab_standard"] >= 35
