"""Online change-point detection: a two-window test for a shift of the mean.

Scoring and deciding are apart, as everywhere in :mod:`detection`:
:class:`MeanShiftChangepoint` scores how strongly the recent mean differs from the mean just
before it; :class:`RefractoryTrigger` (streaming) and :func:`flag_changepoints` (batch) turn
those scores into changepoints, one per crossing of the limit, with a dead time after each.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.errors import InvalidInputError
from detection.library.base import StreamDetector, as_matrix, check_is_fitted
from detection.robust import MAD_TO_SIGMA, floored_scale, median_mad

__all__ = ["MeanShiftChangepoint", "RefractoryTrigger", "flag_changepoints"]

FloatArray = NDArray[np.float64]



class MeanShiftChangepoint(StreamDetector):
    """Two-window mean-shift statistic, per row, averaged over the signals.

    For each signal ``j`` the mean of the last ``short_window`` values is compared with the
    mean of the ``long_window`` values before them::

        z_j = (mean_short - mean_long) / (scale_j * sqrt(1/short_window + 1/long_window))

    and the score is ``mean_j z_j**2``. Under "no change" and independent Gaussian noise of
    standard deviation ``scale_j``, each ``z_j`` is standard normal, so the score is a
    (scaled) chi-square: the log-likelihood ratio of "the mean moved between the windows"
    against "it did not". A step in any signal raises the score for the next
    ``short_window + long_window`` rows, a faster and sharper reaction than a model of the
    healthy state, which is what a changepoint (the start *or* the end of a fault) needs.

    Parameters
    ----------
    short_window : int, default=5
        Rows of the recent window; smaller reacts faster, larger averages more noise away.
    long_window : int, default=60
        Rows of the reference window just before it.
    min_scale : float, default=1e-6
        Absolute floor of ``scale_`` (a signal constant in training has a MAD of 0).
    rel_min_scale : float, default=1e-3
        Floor of ``scale_`` relative to ``|median|`` of the training values.
    warmup : int, default=200
        Streaming only, when :meth:`fit` was not called: rows :meth:`learn_one` collects
        before it estimates ``scale_`` from them.

    Attributes
    ----------
    columns_ : tuple of str
    scale_ : ndarray of shape (n_features,)
        Robust standard deviation of each signal (1.4826 * MAD; the plain standard
        deviation where the MAD is below the floor, as for quantised signals), floored.

    Notes
    -----
    The score at row ``t`` depends on rows ``t - short_window - long_window + 1 .. t`` only
    (causal), and is NaN (batch) or ``None`` (streaming) before that many rows exist.
    Autocorrelated noise makes healthy scores larger than the chi-square suggests; calibrate
    the limit on healthy scores (:class:`~detection.thresholds.QuantileThreshold`) instead of
    using a chi-square quantile.

    References
    ----------
    .. [1] M. Basseville and I. V. Nikiforov, "Detection of Abrupt Changes: Theory and
       Application", Prentice Hall, 1993, ch. 2 (two-window GLR tests).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(0.0, 1.0, size=(300, 2))
    >>> X[200:, 0] += 3.0  # a step in the first signal at row 200
    >>> det = MeanShiftChangepoint(short_window=5, long_window=60).fit(X[:150])
    >>> s = det.score_samples(X)
    >>> bool(np.isnan(s[63])), bool(np.isnan(s[64]))
    (True, False)
    >>> round(float(np.nanmax(s[:200])), 1), round(float(s[204]), 1)
    (3.9, 15.4)
    """

    _pending: list[dict[str, float]]  # streaming warm-up rows, until a scale exists

    def __init__(self, *, short_window: int = 5, long_window: int = 60,
                 min_scale: float = 1e-6, rel_min_scale: float = 1e-3,
                 warmup: int = 200) -> None:
        self.short_window = short_window
        self.long_window = long_window
        self.min_scale = min_scale
        self.rel_min_scale = rel_min_scale
        self.warmup = warmup

    def _validate_params(self) -> None:
        if self.short_window < 1 or self.long_window < 1:
            raise InvalidInputError("short_window and long_window must be >= 1")
        if self.min_scale < 0 or self.rel_min_scale < 0 or (
                self.min_scale == 0 and self.rel_min_scale == 0):
            raise InvalidInputError("min_scale, rel_min_scale must be >= 0 and not both 0")
        if self.warmup < 2:
            raise InvalidInputError("warmup must be >= 2")

    @property
    def _span(self) -> int:
        return self.short_window + self.long_window

    def fit(self, X: ArrayLike, columns: Sequence[str] | None = None) -> Self:
        """Learn the noise scale of each signal from healthy rows."""
        self._validate_params()
        arr = as_matrix(X)
        if arr.shape[0] < 2:
            raise InvalidInputError("need at least 2 healthy rows to learn a scale")
        names = tuple(columns) if columns is not None else tuple(
            f"x{j}" for j in range(arr.shape[1]))
        if len(names) != arr.shape[1]:
            raise InvalidInputError(f"columns must be {arr.shape[1]} names, got {len(names)}")
        median, mad = median_mad(arr)
        floor = np.maximum(self.min_scale, self.rel_min_scale * np.abs(median))
        # A quantised signal often has a MAD of 0 although it moves; its standard deviation
        # then measures the noise better than the floor would.
        robust = MAD_TO_SIGMA * mad
        self.columns_ = names
        self.scale_ = floored_scale(np.where(robust > floor, robust, arr.std(axis=0)), median,
                                    min_scale=self.min_scale, rel_min_scale=self.rel_min_scale)
        self._buffer: deque[FloatArray] = deque(maxlen=self._span - 1)
        return self

    def score_samples(self, X: ArrayLike) -> FloatArray:
        """Score of every row of ``X`` (rows in time order); NaN during the first rows."""
        check_is_fitted(self, ("scale_",))
        arr = as_matrix(X, n_features=self.scale_.shape[0])
        n, s, w = arr.shape[0], self.short_window, self.long_window
        out = np.full(n, np.nan)
        if n < s + w:
            return out
        csum = np.vstack([np.zeros((1, arr.shape[1])), np.cumsum(arr, axis=0)])
        end = np.arange(s + w, n + 1)  # exclusive end of the short window
        short = (csum[end] - csum[end - s]) / s
        long = (csum[end - s] - csum[end - s - w]) / w
        z = (short - long) / (self.scale_ * np.sqrt(1 / s + 1 / w))
        out[s + w - 1:] = np.mean(z**2, axis=1)
        return out

    # -- streaming -----------------------------------------------------------------------

    def _row(self, x: Mapping[str, float | None]) -> FloatArray | None:
        """``x`` in column order; a missing value repeats the previous row's (if any)."""
        row = np.array([np.nan if x.get(c) is None else float(x[c])  # type: ignore[arg-type]
                        for c in self.columns_])
        bad = ~np.isfinite(row)
        if bad.any():
            if not self._buffer:
                return None
            row[bad] = self._buffer[-1][bad]
        return row

    def learn_one(self, x: Mapping[str, float | None]) -> None:
        """Append one observation to the windows (or to the warm-up rows before a fit)."""
        if not hasattr(self, "scale_"):
            self._validate_params()
            pending: list[dict[str, float]] = self.__dict__.setdefault("_pending", [])
            clean = {k: float(v) for k, v in x.items() if v is not None and np.isfinite(v)}
            pending.append(clean)
            if len(pending) >= self.warmup:
                names = sorted({k for row in pending for k in row})
                rows = [[row.get(c, np.nan) for c in names] for row in pending]
                complete = [r for r in rows if np.isfinite(r).all()]
                if len(complete) >= 2:
                    self.fit(complete, columns=names)
                    del self._pending
            return
        row = self._row(x)
        if row is not None:
            self._buffer.append(row)

    def score_one(self, x: Mapping[str, float | None]) -> float | None:
        """Score of ``x`` as the newest row; ``None`` until the windows are full."""
        if not hasattr(self, "scale_") or len(self._buffer) < self._span - 1:
            return None
        row = self._row(x)
        if row is None:
            return None
        window = np.vstack([*self._buffer, row])
        s = self.short_window
        short = window[-s:].mean(axis=0)
        long = window[:-s].mean(axis=0)
        z = (short - long) / (self.scale_ * np.sqrt(1 / s + 1 / self.long_window))
        return float(np.mean(z**2))


def flag_changepoints(scores: ArrayLike, *, limit: float, refractory: int) -> NDArray[np.bool_]:
    """A changepoint where the score exceeds ``limit``, at most one per ``refractory`` rows.

    After a flag, scores above the limit are ignored until ``refractory`` rows have passed,
    because one step keeps a windowed score high for a while. NaN never flags.

    Examples
    --------
    >>> flag_changepoints([0, 5, 5, 5, 0, 5, 0, 5], limit=1.0, refractory=3).astype(int).tolist()
    [0, 1, 0, 0, 0, 1, 0, 0]
    """
    trigger = RefractoryTrigger(limit=limit, refractory=refractory)
    return np.array([trigger.classify(float(v)) for v in np.asarray(scores, dtype=np.float64)],
                    dtype=bool)


class RefractoryTrigger:
    """Streaming twin of :func:`flag_changepoints`: ``classify(score) -> bool``.

    Examples
    --------
    >>> t = RefractoryTrigger(limit=1.0, refractory=2)
    >>> [t.classify(s) for s in [2.0, 2.0, 2.0, 2.0, None, 0.0]]
    [True, False, False, True, False, False]
    """

    def __init__(self, *, limit: float, refractory: int) -> None:
        if refractory < 0:
            raise InvalidInputError(f"refractory must be >= 0, got {refractory!r}")
        self.limit = limit
        self.refractory = refractory
        self._since = refractory + 1  # rows since the last flag

    def __repr__(self) -> str:
        return f"RefractoryTrigger(limit={self.limit!r}, refractory={self.refractory!r})"

    def classify(self, score: float | None) -> bool:
        fire = (score is not None and np.isfinite(score) and score > self.limit
                and self._since >= self.refractory)
        self._since = 0 if fire else self._since + 1
        return bool(fire)
