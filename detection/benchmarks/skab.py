"""SKAB benchmark, protocol of ``/work/shared/data/SKAB.md``: per labelled file the first
400 rows train, the rest test; pooled F1/FAR/MAR over test rows; NAB changepoint scores with
a 60 s window to the right of each true changepoint (rules in :mod:`detection.metrics`).

Each algorithm is scored on both problems, as in SKAB's published tables. An algorithm gives
its 0/1 outlier decision and, optionally, its own changepoints; without them, changepoints
are derived from the outlier decision with SKAB's rule (alarm held ``SKAB_HOLD`` rows, every
change of the held signal), which reproduces the published Isolation Forest row exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from detection.errors import InvalidInputError
from detection.library.metrics import (
    BinaryScores,
    NabCounts,
    alarm_changepoints,
    binary_scores,
    nab_counts,
    nab_normalise,
)
from detection.library.monitor import (
    ChangepointPolicy,
    MonitorPolicy,
    feature_columns,
    run_changepoint_monitor,
    run_monitor,
)

__all__ = ["SkabFile", "load_skab", "SkabResult", "evaluate", "monitor_predictor",
           "changepoint_predictor", "iforest_predictor", "PUBLISHED_OUTLIER", "PUBLISHED_NAB"]

log = logging.getLogger(__name__)

TRAIN_ROWS = 400
NAB_WINDOW_S = 60.0
# SKAB's notebooks hold each outlier alarm for 30 rows before taking its changes as
# changepoints (``prediction.rolling(30).max()``); part of the published protocol.
SKAB_HOLD = 30
GROUPS = ("valve1", "valve2", "other")

# (F1, FAR %, MAR %) and NAB (standard, lowfp, lowfn) as published in SKAB's README.
PUBLISHED_OUTLIER = {
    "Conv-AE": (0.78, 13.55, 28.02), "MSET": (0.78, 39.73, 14.13),
    "T-squared+Q (PCA-based)": (0.76, 26.62, 24.92), "LSTM-AE": (0.74, 29.96, 25.92),
    "T-squared": (0.66, 19.21, 42.6), "LSTM-VAE": (0.56, 9.13, 55.03),
    "Vanilla LSTM": (0.54, 12.54, 59.53), "Vanilla AE": (0.39, 2.59, 75.15),
    "MSCRED": (0.36, 49.94, 69.88), "Isolation forest": (0.29, 2.56, 82.89),
}
PUBLISHED_NAB = {
    "MSCRED": (32.42, 16.53, 40.28), "Isolation forest": (26.16, 19.5, 30.82),
    "T-squared+Q (PCA-based)": (25.35, 14.51, 31.33), "Conv-AE": (23.61, 21.54, 27.55),
    "LSTM-AE": (23.51, 20.11, 25.91), "T-squared": (19.54, 10.2, 24.31),
    "MSET": (13.84, 10.22, 17.37),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SkabFile:
    name: str
    seconds: NDArray[np.float64]
    columns: tuple[str, ...]
    X: NDArray[np.float64]
    anomaly: NDArray[np.bool_]
    changepoint: NDArray[np.bool_]


def load_skab(root: Path) -> list[SkabFile]:
    """The 34 labelled files, in a fixed order. Raises ``FileNotFoundError`` if absent."""
    root = Path(root)
    paths = [p for g in GROUPS for p in sorted((root / g).glob("*.csv"),
                                              key=lambda p: (len(p.stem), p.stem))]
    if not paths:
        raise FileNotFoundError(f"no SKAB files under {root} (expected {'/'.join(GROUPS)}/*.csv)")
    out = []
    for p in paths:
        df = pd.read_csv(p, sep=";")
        if not {"datetime", "anomaly", "changepoint"} <= set(df.columns):
            raise InvalidInputError(f"{p}: not a labelled SKAB file (columns {list(df.columns)})")
        t = pd.to_datetime(df.pop("datetime"))
        anomaly = df.pop("anomaly").to_numpy() == 1
        cp = df.pop("changepoint").to_numpy() == 1
        out.append(SkabFile(name=f"{p.parent.name}/{p.name}",
                            seconds=(t - t.iloc[0]).dt.total_seconds().to_numpy(),
                            columns=tuple(df.columns), X=df.to_numpy(dtype=np.float64),
                            anomaly=anomaly, changepoint=cp))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SkabResult:
    binary: BinaryScores
    nab: dict[str, float]
    files: int

    def as_json(self) -> dict[str, Any]:
        return {"f1": round(self.binary.f1, 4), "far": round(self.binary.far, 4),
                "mar": round(self.binary.mar, 4),
                "nab_standard": round(self.nab["standard"], 2),
                "nab_lowfp": round(self.nab["lowfp"], 2),
                "nab_lowfn": round(self.nab["lowfn"], 2),
                "tp": self.binary.tp, "fp": self.binary.fp, "fn": self.binary.fn,
                "tn": self.binary.tn, "files": self.files}


def evaluate(files: list[SkabFile], predictor: Any, *, changepoints: Any = None,
             hold: int = SKAB_HOLD) -> SkabResult:
    """Score ``predictor(file) -> bool[n]`` (outliers) over the test rows of every file.

    ``changepoints(file) -> bool[n]`` gives the algorithm's own changepoints; without it they
    are :func:`~detection.metrics.alarm_changepoints` of the outlier decision (test rows only,
    as SKAB computes them).
    """
    binary = BinaryScores(tp=0, fp=0, fn=0, tn=0)
    nab = NabCounts(tp_positions=(), fn=0, fp=0, windows=0)
    for f in files:
        pred = np.asarray(predictor(f), dtype=bool)[TRAIN_ROWS:]
        binary = binary + binary_scores(f.anomaly[TRAIN_ROWS:], pred)
        if changepoints is None:
            cps = alarm_changepoints(pred, hold=hold)
        else:
            cps = np.asarray(changepoints(f), dtype=bool)[TRAIN_ROWS:]
        nab = nab + nab_counts(f.seconds[TRAIN_ROWS:], f.changepoint[TRAIN_ROWS:],
                               cps, window=NAB_WINDOW_S)
    return SkabResult(binary=binary, nab=nab_normalise(nab), files=len(files))


def monitor_predictor(policy: MonitorPolicy) -> Any:
    def predict(f: SkabFile) -> NDArray[np.bool_]:
        cols = feature_columns(f.columns, policy)
        idx = [f.columns.index(c) for c in cols]
        return run_monitor(f.X[:, idx], policy).is_anomaly
    return predict


def changepoint_predictor(policy: ChangepointPolicy) -> Any:
    def predict(f: SkabFile) -> NDArray[np.bool_]:
        cols = feature_columns(f.columns, policy)
        idx = [f.columns.index(c) for c in cols]
        return run_changepoint_monitor(f.X[:, idx], policy).is_changepoint
    return predict


def iforest_predictor(f: SkabFile) -> NDArray[np.bool_]:
    """The published Isolation Forest row: contamination 0.0005, 3-point rolling median."""
    from detection.library.iforest import IsolationForestDetector

    det = IsolationForestDetector(random_state=0, contamination=0.0005).fit(f.X[:TRAIN_ROWS])
    flags = np.zeros(len(f.X))
    flags[TRAIN_ROWS:] = det.predict(f.X[TRAIN_ROWS:])
    med = pd.Series(flags).rolling(3).median().fillna(0).to_numpy()
    return np.asarray(med > 0.5, dtype=bool)
