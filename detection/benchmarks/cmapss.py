"""C-MAPSS FD001 remaining-useful-life benchmark (``/work/shared/data/CMAPSS.md``).

Model: per-engine causal features (current value, rolling mean and least-squares slope
over recent cycles of each informative sensor, plus the cycle count) fed to a gradient
boosting regressor, trained on RUL labels capped at ``RUL_CAP``. Validation mimics how the
test set is built: grouped K-fold by engine, each validation engine cut at random cycles and
only its last row scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import GroupKFold

__all__ = ["load_cmapss", "features", "informative_sensors", "rul_labels", "CmapssResult",
           "cross_validate", "fit_predict_test", "nasa_score", "rmse", "PUBLISHED"]

COLUMNS = ["unit", "cycle", "op1", "op2", "op3", *[f"s{i}" for i in range(1, 22)]]
RUL_CAP = 125
WINDOWS = (5, 15, 30)
PUBLISHED = {"MLP": (37.56, 18000), "SVR": (20.96, 1380), "CNN (2016)": (18.45, 1299),
             "deep LSTM (2017)": (16.14, 338), "RVE": (13.42, 323.8),
             "MS-DCNN": (11.44, 196.2)}


def load_cmapss(path: Path) -> pd.DataFrame:
    if not Path(path).is_file():
        raise FileNotFoundError(f"C-MAPSS file not found: {path}")
    df = pd.read_csv(path, sep=r"\s+", header=None)
    df = df.iloc[:, : len(COLUMNS)]
    df.columns = COLUMNS
    return df


def informative_sensors(train: pd.DataFrame) -> list[str]:
    """Sensors that move in training (FD001 has several constant ones)."""
    sensors = [c for c in COLUMNS if c.startswith("s")]
    return [s for s in sensors if train[s].std() > 1e-6 * max(1.0, abs(train[s].mean()))
            and train[s].nunique() > 2]


def features(df: pd.DataFrame, sensors: list[str]) -> pd.DataFrame:
    """Causal per-engine features of every row (row t uses cycles <= t of its engine)."""
    parts = [df[["cycle"]].astype(float)]
    g = df.groupby("unit", sort=False)
    for w in WINDOWS:
        roll = g[sensors].rolling(w, min_periods=1)
        mean = roll.mean().reset_index(level=0, drop=True).loc[df.index]
        parts.append(mean.add_suffix(f"_m{w}"))
        # Least-squares slope over the window: cov(x, t) / var(t) with t = cycle.
        t = df["cycle"].astype(float)
        tm = t.groupby(df["unit"]).rolling(w, min_periods=2).mean().reset_index(
            level=0, drop=True).loc[df.index]
        tt = (t * t).groupby(df["unit"]).rolling(w, min_periods=2).mean().reset_index(
            level=0, drop=True).loc[df.index]
        var_t = (tt - tm * tm).replace(0, np.nan)
        slopes = {}
        for s in sensors:
            xt = (df[s] * t).groupby(df["unit"]).rolling(w, min_periods=2).mean().reset_index(
                level=0, drop=True).loc[df.index]
            slopes[f"{s}_d{w}"] = ((xt - mean[s] * tm) / var_t).fillna(0.0)
        parts.append(pd.DataFrame(slopes, index=df.index))
    return pd.concat(parts, axis=1)


def rul_labels(df: pd.DataFrame) -> NDArray[np.float64]:
    last = df.groupby("unit")["cycle"].transform("max")
    return np.asarray(np.minimum(last - df["cycle"], RUL_CAP), dtype=np.float64)


def nasa_score(pred: NDArray[np.float64], true: NDArray[np.float64]) -> float:
    d = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1).sum())


def rmse(pred: NDArray[np.float64], true: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(true)) ** 2)))


def _model(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                         min_samples_leaf=40, l2_regularization=1.0,
                                         random_state=seed)


@dataclass(frozen=True, slots=True, kw_only=True)
class CmapssResult:
    cv_rmse: float
    cv_nasa_score: float  # summed over the cut points, rescaled to 100 engines
    cv_cuts: int

    def as_json(self) -> dict[str, Any]:
        return {"cv_rmse": round(self.cv_rmse, 3), "cv_nasa_score": round(self.cv_nasa_score, 1),
                "cv_cuts": self.cv_cuts}


def cross_validate(train: pd.DataFrame, *, folds: int = 5, cuts_per_engine: int = 5,
                   seed: int = 0) -> CmapssResult:
    """Grouped K-fold by engine; each validation engine is cut at random cycles (true RUL
    capped like the labels) and the prediction at the cut is scored."""
    sensors = informative_sensors(train)
    X = features(train, sensors)
    y = rul_labels(train)
    units = train["unit"].to_numpy()
    rng = np.random.default_rng(seed)
    preds: list[float] = []
    truths: list[float] = []
    for fit_idx, val_idx in GroupKFold(n_splits=folds).split(X, y, units):
        model = _model(seed).fit(X.iloc[fit_idx], y[fit_idx])
        val = train.iloc[val_idx]
        for rows in val.groupby("unit").groups.values():
            pos = np.asarray([train.index.get_loc(r) for r in rows])
            # Test engines are cut somewhere in their life, never before ~30 cycles.
            lo = min(30, len(pos) - 1)
            for cut in rng.integers(lo, len(pos), size=cuts_per_engine):
                i = pos[cut]
                preds.append(float(model.predict(X.iloc[[i]])[0]))
                truths.append(float(y[i]))
    p, t = np.asarray(preds), np.asarray(truths)
    return CmapssResult(cv_rmse=rmse(p, t), cv_nasa_score=nasa_score(p, t) * 100 / len(p),
                        cv_cuts=len(p))


def fit_predict_test(train: pd.DataFrame, test: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Train on all engines; ``unit, rul`` for the last row of each test engine."""
    sensors = informative_sensors(train)
    model = _model(seed).fit(features(train, sensors), rul_labels(train))
    Xt = features(test, sensors)
    last = test.groupby("unit")["cycle"].idxmax()
    rul = np.clip(model.predict(Xt.loc[last.to_numpy()]), 0, None)
    return pd.DataFrame({"unit": last.index.to_numpy(), "rul": np.round(rul, 1)})
