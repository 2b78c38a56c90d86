"""Several batch detectors combined, each with a threshold calibrated on healthy data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.base import BatchDetector, as_matrix, check_is_fitted
from detection.errors import InvalidInputError
from detection.thresholds import QuantileThreshold

__all__ = ["CalibratedEnsemble"]

FloatArray = NDArray[np.float64]


class Member(Protocol):
    """What the ensemble needs of a member: any batch detector, or a streaming one that
    also fits and scores matrices (e.g. :class:`~detection.limits.RobustLimits`)."""

    def fit(self, X: ArrayLike) -> Any: ...

    def score_samples(self, X: ArrayLike) -> FloatArray: ...


class CalibratedEnsemble(BatchDetector):
    """Fits each member on healthy rows, calibrates one limit per member on healthy scores,
    and scores a row by its members' scores divided by their limits.

    Raw scores of different detectors are not comparable (a T^2+Q of 3 and an Isolation
    Forest score of 0.6 say nothing about each other); divided by each member's own
    quantile of healthy scores, they are: 1 is "as high as the healthy quantile ``q``".

    Parameters
    ----------
    members : sequence of (str, detector with ``fit`` and ``score_samples``)
        Named, unfitted detectors; they are fitted by :meth:`fit` (in place).
    q : float, default=0.99
        Quantile of each member's healthy scores used as its limit.
    factor : float, default=1.0
        Multiplier of each limit (margin).
    combine : {"max", "mean", "vote"}, default="max"
        ``max``: the most alarmed member decides; ``mean``: average of normalised scores;
        ``vote``: fraction of members above their limit (:meth:`predict` then alarms on a
        strict majority).
    calibration_fraction : float, default=0.3
        Share of the healthy rows (the last ones) kept out of fitting to calibrate the
        limits; in-sample scores are optimistic (an Isolation Forest scores its own
        training points low). 0 calibrates on the fitting rows.

    Attributes
    ----------
    thresholds_ : dict of str to QuantileThreshold
    names_ : tuple of str

    Examples
    --------
    >>> import numpy as np
    >>> from detection.pca import PcaT2Q
    >>> from detection.iforest import IsolationForestDetector
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(size=(1000, 1))
    >>> healthy = np.hstack([t, 2 * t + rng.normal(0, 0.1, (1000, 1))])
    >>> ens = CalibratedEnsemble(members=[("pca", PcaT2Q(n_components=1)),
    ...                                   ("iforest", IsolationForestDetector(random_state=0))],
    ...                          q=0.99, factor=1.5).fit(healthy)
    >>> s = ens.score_members([[0.0, 0.0], [1.0, -2.0]])
    >>> sorted(s), bool(s["pca"][1] > 1), ens.predict([[0.0, 0.0], [1.0, -2.0]]).tolist()
    (['iforest', 'pca'], True, [False, True])
    """

    def __init__(self, *, members: Sequence[tuple[str, Member]], q: float = 0.99,
                 factor: float = 1.0, combine: str = "max",
                 calibration_fraction: float = 0.3) -> None:
        self.members = members
        self.q = q
        self.factor = factor
        self.combine = combine
        self.calibration_fraction = calibration_fraction

    def fit(self, X: ArrayLike) -> Self:
        if not self.members:
            raise InvalidInputError("an ensemble needs at least one member")
        names = tuple(n for n, _ in self.members)
        if len(set(names)) != len(names):
            raise InvalidInputError(f"member names must be distinct, got {list(names)}")
        if self.combine not in ("max", "mean", "vote"):
            raise InvalidInputError(f"combine must be max, mean or vote, got {self.combine!r}")
        if not 0 <= self.calibration_fraction < 1:
            raise InvalidInputError("calibration_fraction must be in [0, 1)")
        arr = as_matrix(X)
        n_cal = int(round(arr.shape[0] * self.calibration_fraction))
        fit_rows = arr[: arr.shape[0] - n_cal] if n_cal else arr
        cal_rows = arr[arr.shape[0] - n_cal:] if n_cal else arr
        if fit_rows.shape[0] < 2 or cal_rows.shape[0] < 1:
            raise InvalidInputError("too few healthy rows to fit and calibrate the members")
        self.thresholds_: dict[str, QuantileThreshold] = {}
        for name, det in self.members:
            det.fit(fit_rows)
            self.thresholds_[name] = QuantileThreshold(q=self.q, factor=self.factor).fit(
                det.score_samples(cal_rows))
        self.names_ = names
        return self

    def score_members(self, X: ArrayLike) -> dict[str, FloatArray]:
        """Each member's score divided by its calibrated limit (1 = at the limit)."""
        check_is_fitted(self, ("thresholds_",))
        arr = as_matrix(X)
        out = {}
        for name, det in self.members:
            limit = self.thresholds_[name].limit_
            out[name] = det.score_samples(arr) / (limit if limit > 0 else 1e-12)
        return out

    def score_samples(self, X: ArrayLike) -> FloatArray:
        scores = np.vstack(list(self.score_members(X).values()))
        if self.combine == "max":
            combined = scores.max(axis=0)
        elif self.combine == "mean":
            combined = scores.mean(axis=0)
        else:
            combined = (scores > 1).mean(axis=0)
        return np.asarray(combined, dtype=np.float64)

    def predict(self, X: ArrayLike, *, threshold: float | None = None) -> NDArray[np.bool_]:
        """Alarm above ``threshold``: by default 1 (a limit), or 0.5 (a majority) for votes."""
        default = 0.5 if self.combine == "vote" else 1.0
        return self.score_samples(X) > (default if threshold is None else threshold)
