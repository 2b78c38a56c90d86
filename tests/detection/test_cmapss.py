"""C-MAPSS features: causal per engine, and learnt only from the engines they are fitted on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detection.benchmarks.cmapss import COLUMNS, Normaliser, features, fit_predict


def _fleet(units: int, seed: int) -> pd.DataFrame:
    """Engines whose sensors drift towards failure, FD001's layout (26 columns)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, units + 1):
        life = int(rng.integers(120, 200))
        for c in range(1, life + 1):
            wear = (c / life) ** 2
            sensors = [100.0 + 5 * wear * (1 + j % 3) + rng.normal(0, 0.3) for j in range(21)]
            sensors[0] = 518.67  # constant, as FD001's s1
            rows.append([u, c, 0.0, 0.0, 100.0, *sensors])
    return pd.DataFrame(rows, columns=COLUMNS)


def test_features_of_a_row_do_not_depend_on_later_cycles():
    df = _fleet(3, 0)
    norm = Normaliser.fit(df)
    full = features(df, norm)
    first = df[df["unit"] == 1]
    cut = first[first["cycle"] <= 60]
    part = features(cut, norm)
    np.testing.assert_allclose(part, full[: len(cut)])


def test_normaliser_learns_only_from_its_engines_and_drops_constant_sensors():
    a, b = _fleet(4, 1), _fleet(4, 2)
    b = b.assign(s2=b["s2"] + 50.0)
    na = Normaliser.fit(a)
    assert "s1" not in na.sensors
    assert np.allclose(Normaliser.fit(a).mean, na.mean)
    assert not np.allclose(Normaliser.fit(b).mean, na.mean)


def test_fit_predict_gives_remaining_life_that_falls_with_wear():
    train, test = _fleet(30, 3), _fleet(3, 4)
    pred = fit_predict(train, test, test_lengths=None)
    assert pred.shape == (len(test),) and (pred >= 0).all()
    one = test["unit"].to_numpy() == 1
    early, late = pred[one][:20].mean(), pred[one][-10:].mean()
    assert early > late + 40
