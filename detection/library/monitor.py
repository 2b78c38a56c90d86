"""Offline causal pipelines, one per problem, each configured by a policy TOML.

- Outliers (which rows are abnormal): smoothed inputs -> PCA T^2+Q -> smoothed score ->
  threshold calibrated on the training rows (``policies/offline.toml``).
- Changepoints (when a fault starts or ends): two-window mean-shift score -> limit calibrated
  on the training rows -> one changepoint per crossing, with a dead time
  (``policies/changepoint.toml``).

Used by ``bench skab`` and ``detect csv``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detection.errors import InvalidInputError
from detection.library.alarm import AlarmPolicy
from detection.library.changepoint import MeanShiftChangepoint, flag_changepoints
from detection.library.pca import PcaT2Q
from detection.library.smoothing import ewma
from detection.library.thresholds import QuantileThreshold
from detection.policies import load_policy_file
from detection.robust import MAD_TO_SIGMA, median_mad

__all__ = ["OfflinePolicy", "MonitorPolicy", "load_policy", "MonitorResult", "run_monitor",
           "feature_columns", "ChangepointPolicy", "load_changepoint_policy", "ChangepointResult",
           "run_changepoint_monitor", "policy_as_dict", "training_inliers"]


class OfflinePolicy(BaseModel):
    """What both offline pipelines read from their policy file: the training rows and which
    columns are features. Column names are matched case-insensitively."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    train_rows: int = Field(gt=1)
    exclude_columns: tuple[str, ...]
    label_columns: tuple[str, ...]

    @field_validator("exclude_columns", "label_columns")
    @classmethod
    def _lower(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n.lower() for n in names)


class MonitorPolicy(OfflinePolicy):
    """The outlier pipeline (``policies/offline.toml``)."""

    input_alpha: float = Field(gt=0, le=1)
    n_components: int = Field(ge=1)
    score_alpha: float = Field(gt=0, le=1)
    threshold_quantile: float = Field(ge=0, le=1)
    threshold_factor: float = Field(gt=0)
    trim_z: float = Field(gt=0)
    alarm: AlarmPolicy


class ChangepointPolicy(OfflinePolicy):
    """The changepoint pipeline (``policies/changepoint.toml``)."""

    short_window: int = Field(ge=1)
    long_window: int = Field(ge=1)
    threshold_quantile: float = Field(ge=0, le=1)
    threshold_factor: float = Field(gt=0)
    refractory: int = Field(ge=0)


def load_policy(path: Path | None = None) -> MonitorPolicy:
    """Read an outlier policy TOML (default: the packaged ``policies/offline.toml``)."""
    return load_policy_file(MonitorPolicy, "offline.toml", path)


def load_changepoint_policy(path: Path | None = None) -> ChangepointPolicy:
    """Read a changepoint policy TOML (default: the packaged ``policies/changepoint.toml``)."""
    return load_policy_file(ChangepointPolicy, "changepoint.toml", path)


def feature_columns(columns: Sequence[str], policy: OfflinePolicy) -> list[str]:
    """Columns used as features: not a label, not excluded (case-insensitive)."""
    out = []
    for c in columns:
        low = c.lower()
        if low in policy.label_columns:
            continue
        if any(ex in low for ex in policy.exclude_columns):
            continue
        out.append(c)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorResult:
    score: NDArray[np.float64]  # smoothed score per row; NaN in the training rows' warm-up
    is_anomaly: NDArray[np.bool_]
    limit: float
    fitted: NDArray[np.bool_]  # training rows the model learned from (outliers trimmed)


def run_monitor(X: NDArray[np.float64], policy: MonitorPolicy) -> MonitorResult:
    """Score every row of ``X`` causally: row t depends only on rows <= t.

    The model and threshold are fitted on the first ``train_rows`` rows, which precede
    every row they score; smoothing is an EWMA, which only looks back. Training rows that
    lie more than ``trim_z`` robust standard deviations from the training median in any
    smoothed signal are left out of the fit (see :func:`training_inliers`), so that a spike
    inside the training window neither widens the model nor raises the limit.
    """
    n = X.shape[0]
    if n <= policy.train_rows:
        raise InvalidInputError(
            f"need more than {policy.train_rows} rows (the training part), got {n}")
    # Missing values carry the last value forward: causal, and keeps the row.
    filled = _ffill(X)
    if not np.isfinite(filled[: policy.train_rows]).all(axis=0).all():
        filled[: policy.train_rows] = np.where(
            np.isfinite(filled[: policy.train_rows]),
            filled[: policy.train_rows],
            np.nanmedian(filled[: policy.train_rows], axis=0))
    smooth = ewma(filled, alpha=policy.input_alpha)
    fitted = np.zeros(n, dtype=bool)
    fitted[: policy.train_rows] = training_inliers(smooth[: policy.train_rows], policy.trim_z)
    model = PcaT2Q(n_components=min(policy.n_components, X.shape[1])).fit(smooth[fitted])
    ok = np.isfinite(smooth).all(axis=1)
    raw = np.full(n, np.nan)
    raw[ok] = model.score_samples(smooth[ok])
    score = ewma(raw, alpha=policy.score_alpha)
    threshold = QuantileThreshold(q=policy.threshold_quantile,
                                  factor=policy.threshold_factor).fit(score[fitted])
    return MonitorResult(score=score, is_anomaly=threshold.classify_many(score),
                         limit=threshold.limit_, fitted=fitted)


def training_inliers(X: NDArray[np.float64], trim_z: float) -> NDArray[np.bool_]:
    """Rows of ``X`` within ``trim_z`` robust standard deviations of the column medians.

    The scale is 1.4826 x MAD, or the standard deviation where the MAD is 0 (a quantised
    or mostly constant signal, which would otherwise trim every row that moves). Refuses
    to trim more than half the rows: then the "outliers" are the series' normal behaviour
    (several operating levels), and every row is kept.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [-1.0], [0.5], [40.0]])
    >>> training_inliers(X, 5.0).tolist()
    [True, True, True, True, False]
    """
    median, mad = median_mad(X)
    scale = np.where(mad > 0, MAD_TO_SIGMA * mad, X.std(axis=0))
    scale = np.where(scale > 0, scale, 1.0)  # a constant column: nothing to trim
    keep = np.all(np.abs(X - median) <= trim_z * scale, axis=1)
    return keep if keep.sum() * 2 >= X.shape[0] else np.ones(X.shape[0], dtype=bool)


def _ffill(X: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.array(X, dtype=np.float64)
    for j in range(out.shape[1]):
        col = out[:, j]
        bad = ~np.isfinite(col)
        if bad.any():
            idx = np.where(~bad, np.arange(col.size), 0)
            np.maximum.accumulate(idx, out=idx)
            filled = col[idx]
            filled[bad & (np.cumsum(~bad) == 0)] = np.nan
            out[:, j] = filled
    return out


def policy_as_dict(policy: OfflinePolicy) -> Mapping[str, Any]:
    return policy.model_dump()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangepointResult:
    score: NDArray[np.float64]  # NaN until both windows are full
    is_changepoint: NDArray[np.bool_]
    limit: float


def run_changepoint_monitor(X: NDArray[np.float64], policy: ChangepointPolicy) -> ChangepointResult:
    """Changepoints of every row of ``X``, causally: row t depends only on rows <= t.

    The noise scales and the limit are learned on the first ``train_rows`` rows.
    """
    n = X.shape[0]
    if n <= policy.train_rows:
        raise InvalidInputError(
            f"need more than {policy.train_rows} rows (the training part), got {n}")
    filled = _ffill(X)
    head = filled[: policy.train_rows]
    filled[: policy.train_rows] = np.where(np.isfinite(head), head, np.nanmedian(head, axis=0))
    filled = np.where(np.isfinite(filled), filled, 0.0)  # columns empty in training only
    det = MeanShiftChangepoint(short_window=policy.short_window,
                               long_window=policy.long_window).fit(filled[: policy.train_rows])
    score = det.score_samples(filled)
    limit = QuantileThreshold(q=policy.threshold_quantile, factor=policy.threshold_factor).fit(
        score[: policy.train_rows]).limit_
    return ChangepointResult(score=score, limit=limit, is_changepoint=flag_changepoints(
        score, limit=limit, refractory=policy.refractory))
