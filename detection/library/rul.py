"""Remaining useful life from the trend of a degradation indicator, with an uncertainty band.

The recent history of the indicator (or of ``1 - health``) is fitted with a robust trend,
linear, quadratic or exponential, and extrapolated to the failure level: the crossing time
minus the last observation time is the RUL. The band comes from a residual bootstrap: the
fitted trend plus resampled residuals gives alternative histories, each refitted and
extrapolated; the quantiles of their RULs bound the estimate. Components of one kind do not
all fail at the same indicator level (fault severity varies), so when the policy gives a
range of failure levels each bootstrap draw also draws its failure level from that range,
and the band covers both the fit's and the failure level's uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.errors import InvalidInputError
from detection.library.base import _Params, check_is_fitted

__all__ = ["RulEstimate", "TrendRul", "theil_sen"]

FloatArray = NDArray[np.float64]

# Pairwise slopes cost O(n^2); beyond this many points a fixed, evenly spaced subset is
# used, which changes the median slope by far less than the bootstrap spread.
_MAX_PAIRS_POINTS = 300


def theil_sen(t: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Median of pairwise slopes and the matching median intercept (robust to outliers).

    Examples
    --------
    >>> t = np.arange(10.0)
    >>> y = 2 * t + 1
    >>> y[3] = 100.0  # one wild value barely moves the fit
    >>> [round(v, 6) for v in theil_sen(t, y)]
    [2.0, 1.0]
    """
    if t.size > _MAX_PAIRS_POINTS:
        keep = np.linspace(0, t.size - 1, _MAX_PAIRS_POINTS).astype(np.int64)
        t, y = t[keep], y[keep]
    i, j = np.triu_indices(t.size, k=1)
    dt = t[j] - t[i]
    ok = dt != 0
    if not ok.any():
        raise InvalidInputError("need at least two distinct times to fit a trend")
    slope = float(np.median((y[j] - y[i])[ok] / dt[ok]))
    return slope, float(np.median(y - slope * t))


@dataclass(frozen=True, slots=True, kw_only=True)
class RulEstimate:
    rul: float  # time units of t; inf when the trend does not approach the failure level
    low: float  # lower bound of the band (the pessimistic end)
    high: float
    confidence: float


class TrendRul(_Params):
    """Robust trend of a degradation indicator extrapolated to ``failure_level``.

    Parameters
    ----------
    failure_level : float
        Indicator value at which the component is failed (from the maintenance policy).
    model : {"linear", "quadratic", "exponential"}, default="linear"
        ``quadratic`` fits a line to ``sqrt(indicator - offset)`` (wear whose effect grows
        with the square of the worn fraction, e.g. gear flank wear); ``exponential`` fits a
        line to ``log(indicator - offset)``. Both need ``indicator > offset`` (quadratic
        clips values at or below the floor to it).
    offset : float, default=0.0
        Quadratic / exponential models: the indicator's floor (its value for a new component).
    failure_range : tuple of float or None, default=None
        ``(lowest, highest)`` indicator level at which a component of this kind fails; the
        bootstrap draws each replicate's failure level uniformly from it. ``None`` uses
        ``failure_level`` only (the band then reflects the fit alone).
    window : int or None, default=None
        Only the last ``window`` points are fitted (recent behaviour); ``None`` uses all.
    n_bootstrap : int, default=200
    confidence : float, default=0.9
        Central coverage of the band.
    random_state : int or None, default=None

    Attributes
    ----------
    slope_, intercept_ : float
        Trend of the indicator (or of its log) against time.
    t_last_ : float
    residuals_ : ndarray

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(100.0)
    >>> wear = 1.0 + 0.05 * t + rng.normal(0, 0.1, t.size)   # reaches 10 near t = 180
    >>> est = TrendRul(failure_level=10.0, random_state=0).fit(t, wear).predict()
    >>> round(est.rul), est.low < est.rul < est.high
    (81, True)
    """

    def __init__(self, *, failure_level: float, model: str = "linear", offset: float = 0.0,
                 failure_range: tuple[float, float] | None = None,
                 window: int | None = None, n_bootstrap: int = 200, confidence: float = 0.9,
                 random_state: int | None = None) -> None:
        self.failure_level = failure_level
        self.model = model
        self.offset = offset
        self.failure_range = failure_range
        self.window = window
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.random_state = random_state

    def _transform(self, y: FloatArray) -> FloatArray:
        if self.model == "linear":
            return y
        if self.model == "quadratic":
            # Early in the wear the indicator sits at its floor give or take noise; clipping
            # keeps those points (they pin the curve's start) instead of rejecting the fit.
            return np.sqrt(np.clip(y - self.offset, 0.0, None))
        if (y <= self.offset).any():
            raise InvalidInputError("exponential model needs indicator values above offset")
        return np.log(y - self.offset)

    def _target(self, level: float | None = None) -> float:
        lvl = self.failure_level if level is None else level
        return float(self._transform(np.array([lvl]))[0])

    def fit(self, t: ArrayLike, indicator: ArrayLike) -> Self:
        """Fit the trend of ``indicator`` over times ``t`` (increasing)."""
        if self.model not in ("linear", "quadratic", "exponential"):
            raise InvalidInputError(
                f"model must be linear, quadratic or exponential, got {self.model!r}")
        if self.model != "linear" and self.failure_level <= self.offset:
            raise InvalidInputError("failure_level must lie above offset")
        if self.failure_range is not None:
            lo, hi = self.failure_range
            if not lo <= self.failure_level <= hi or (self.model != "linear"
                                                       and lo <= self.offset):
                raise InvalidInputError(
                    "failure_range must contain failure_level and lie above offset")
        if not 0 < self.confidence < 1 or self.n_bootstrap < 1:
            raise InvalidInputError("confidence must be in (0, 1) and n_bootstrap >= 1")
        ts = np.asarray(t, dtype=np.float64).ravel()
        y = np.asarray(indicator, dtype=np.float64).ravel()
        if ts.shape != y.shape:
            raise InvalidInputError(f"t and indicator differ in length: {ts.size} vs {y.size}")
        ok = np.isfinite(ts) & np.isfinite(y)
        ts, y = ts[ok], y[ok]
        if self.window is not None:
            ts, y = ts[-self.window:], y[-self.window:]
        if ts.size < 3:
            raise InvalidInputError("need at least 3 finite points to fit a trend")
        z = self._transform(y)
        self.slope_, self.intercept_ = theil_sen(ts, z)
        self.t_last_ = float(ts[-1])
        self.residuals_ = z - (self.slope_ * ts + self.intercept_)
        self._t = ts
        return self

    def _rul(self, slope: float, intercept: float, target: float | None = None) -> float:
        if slope <= 0:
            return float("inf")
        goal = self._target() if target is None else target
        return max((goal - intercept) / slope - self.t_last_, 0.0)

    def predict(self) -> RulEstimate:
        """RUL from the last observation, with its bootstrap band."""
        check_is_fitted(self, ("slope_",))
        rng = np.random.default_rng(self.random_state)
        fitted = self.slope_ * self._t + self.intercept_
        ruls = np.empty(self.n_bootstrap)
        lo, hi = self.failure_range or (self.failure_level, self.failure_level)
        for b in range(self.n_bootstrap):
            z = fitted + rng.choice(self.residuals_, size=self.residuals_.size, replace=True)
            target = self._target(float(rng.uniform(lo, hi)))
            ruls[b] = self._rul(*theil_sen(self._t, z), target)
        alpha = (1 - self.confidence) / 2
        # inf sorts last, so a partly non-degrading bootstrap widens the upper end only.
        low, high = np.quantile(ruls, [alpha, 1 - alpha], method="lower")
        rul = self._rul(self.slope_, self.intercept_)
        # With a skewed failure range the quantiles can exclude the central estimate; a
        # band that does not contain its own estimate would only confuse the planner.
        return RulEstimate(rul=rul, low=float(min(low, rul)), high=float(max(high, rul)),
                           confidence=self.confidence)
