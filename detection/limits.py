"""Robust static limits: median +/- k robust standard deviations, per signal."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.base import StreamDetector, as_matrix, check_is_fitted
from detection.errors import InvalidInputError, StateError

__all__ = ["RobustLimits", "robust_scores"]

FloatArray = NDArray[np.float64]

# 1.4826 * MAD estimates the standard deviation of a normal distribution.
_MAD_TO_SIGMA = 1.4826
_STATE_FORMAT = 1


def robust_scores(X: FloatArray, median: FloatArray, scale: FloatArray, k: float) -> FloatArray:
    """``|X - median| / scale / k``, broadcasting; NaN stays NaN (a missing value, not a 0).

    Broadcasting lets a caller stack one baseline per robot (``median`` of shape ``[r, d]``)
    and score a whole fleet tick ``X[r, d]`` in one call.
    """
    return np.abs(X - median) / (scale * k)


class RobustLimits(StreamDetector):
    """Per-signal limits learned from healthy data: ``median +/- k * 1.4826 * MAD``.

    The score of a sample is the largest distance to the median over its signals, in units
    of the limit: ``max_j |x_j - median_j| / scale_j / k``. A score above 1 means that at
    least one signal is outside its limits; :meth:`score_columns` tells which.

    Parameters
    ----------
    k : float, default=6.0
        Half-width of the limits, in robust standard deviations.
    min_scale : float, default=1e-6
        Absolute floor of ``scale_`` in signal units. A constant signal has a MAD of 0,
        which would make every wiggle an infinitely large deviation.
    rel_min_scale : float, default=1e-3
        Floor of ``scale_`` relative to ``|median_|`` (a quantised signal at 1000 that
        never moved in training should still tolerate a step of about ``k`` units).
    window : int, default=2000
        Streaming only: how many recent values per signal :meth:`learn_one` keeps.
    min_samples : int, default=30
        Streaming only: values a signal needs before it gets limits (warm-up).
    refresh_every : int, default=50
        Streaming only: recompute a signal's median and MAD after this many new values,
        so that learning costs O(1) amortised per value instead of a sort each time.

    Attributes
    ----------
    columns_ : tuple of str
        Signal names, in the column order of ``X``.
    median_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
        Robust standard deviation, floored.
    n_samples_ : ndarray of shape (n_features,)
        Finite training values per signal.

    Notes
    -----
    Median and MAD ignore up to half the training data being faulty, unlike mean and
    standard deviation, which one large spike can inflate enough to hide the next one.

    References
    ----------
    .. [1] P. J. Rousseeuw and C. Croux, "Alternatives to the Median Absolute Deviation",
       JASA 88 (424), 1993.

    Examples
    --------
    >>> import numpy as np
    >>> from detection.limits import RobustLimits
    >>> rng = np.random.default_rng(0)
    >>> healthy = rng.normal([40.0, 3.0], [0.5, 0.1], size=(500, 2))
    >>> lim = RobustLimits(k=6.0).fit(healthy, columns=["J1.temperature", "J1.current"])
    >>> np.round(lim.median_, 1)
    array([39.9,  3. ])
    >>> np.round(lim.score_samples([[40.2, 3.0], [40.0, 4.5]]), 2)
    array([0.09, 2.75])
    >>> round(lim.score_one({"J1.temperature": 47.0, "J1.current": 3.0}), 2)
    2.36
    """

    def __init__(
        self,
        *,
        k: float = 6.0,
        min_scale: float = 1e-6,
        rel_min_scale: float = 1e-3,
        window: int = 2000,
        min_samples: int = 30,
        refresh_every: int = 50,
    ) -> None:
        self.k = k
        self.min_scale = min_scale
        self.rel_min_scale = rel_min_scale
        self.window = window
        self.min_samples = min_samples
        self.refresh_every = refresh_every

    # -- batch ---------------------------------------------------------------------------

    def _validate_params(self) -> None:
        if not self.k > 0:
            raise InvalidInputError(f"k must be > 0, got {self.k!r}")
        if self.min_scale < 0 or self.rel_min_scale < 0:
            raise InvalidInputError("min_scale and rel_min_scale must be >= 0")
        if self.min_scale == 0 and self.rel_min_scale == 0:
            raise InvalidInputError("min_scale and rel_min_scale cannot both be 0")
        if self.window < 1 or self.min_samples < 1 or self.refresh_every < 1:
            raise InvalidInputError("window, min_samples and refresh_every must be >= 1")

    def _floor(self, mad_scale: FloatArray, median: FloatArray) -> FloatArray:
        floor = np.maximum(self.min_scale, self.rel_min_scale * np.abs(median))
        return np.maximum(mad_scale, floor)

    def fit(self, X: ArrayLike, columns: Sequence[str] | None = None) -> Self:
        """Learn median and scale per column from healthy rows (NaN values are skipped).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        columns : sequence of str, optional
            Signal names, used by the streaming methods; default ``x0, x1, ...``.
        """
        self._validate_params()
        arr = as_matrix(X, allow_nan=True)
        names = tuple(columns) if columns is not None else tuple(
            f"x{j}" for j in range(arr.shape[1]))
        if len(names) != arr.shape[1] or len(set(names)) != len(names):
            raise InvalidInputError(
                f"columns must be {arr.shape[1]} distinct names, got {list(names)!r}")
        counts = np.isfinite(arr).sum(axis=0)
        if (counts == 0).any():
            empty = [n for n, c in zip(names, counts, strict=True) if c == 0]
            raise InvalidInputError(f"no finite training value for {empty}")
        arr = np.where(np.isfinite(arr), arr, np.nan)
        median = np.nanmedian(arr, axis=0)
        mad = np.nanmedian(np.abs(arr - median), axis=0)
        self.columns_ = names
        self.median_ = median
        self.scale_ = self._floor(_MAD_TO_SIGMA * mad, median)
        self.n_samples_ = counts.astype(np.int64)
        self._reset_stream()
        return self

    def score_columns(self, X: ArrayLike) -> FloatArray:
        """Per-signal scores ``[n, d]``: ``|x - median| / scale / k``; NaN input gives NaN."""
        check_is_fitted(self, ("median_", "scale_"))
        arr = as_matrix(X, n_features=self.median_.shape[0], allow_nan=True)
        return robust_scores(arr, self.median_, self.scale_, self.k)

    def score_samples(self, X: ArrayLike) -> FloatArray:
        """Largest per-signal score of each row ``[n]``; NaN only if the whole row is NaN."""
        cols = self.score_columns(X)
        if cols.shape[1] == 0:
            return np.full(cols.shape[0], np.nan)
        return np.asarray(np.fmax.reduce(cols, axis=1), dtype=np.float64)

    def predict(self, X: ArrayLike, *, threshold: float | None = None) -> NDArray[np.bool_]:
        """``True`` where a signal is outside its limits (score above 1 by default)."""
        return self.score_samples(X) > (1.0 if threshold is None else threshold)

    # -- streaming -----------------------------------------------------------------------

    def _reset_stream(self) -> None:
        self._buffers: dict[str, deque[float]] = {}
        self._since_refresh: dict[str, int] = {}

    def learn_one(self, x: Mapping[str, float | None]) -> None:
        """Add one healthy observation; unknown signals get a column of their own."""
        self._validate_params()
        if not hasattr(self, "_buffers"):
            self._reset_stream()
        if not hasattr(self, "median_"):
            self.columns_ = ()
            self.median_ = np.empty(0)
            self.scale_ = np.empty(0)
            self.n_samples_ = np.empty(0, dtype=np.int64)
        for name, value in x.items():
            if value is None or not np.isfinite(value):
                continue
            buf = self._buffers.get(name)
            if buf is None:
                buf = self._buffers[name] = deque(maxlen=self.window)
                self._since_refresh[name] = 0
            buf.append(float(value))
            self._since_refresh[name] += 1
            if len(buf) >= self.min_samples and (
                self._since_refresh[name] >= self.refresh_every or name not in self.columns_
            ):
                self._refresh(name)

    def _refresh(self, name: str) -> None:
        values = np.fromiter(self._buffers[name], dtype=np.float64)
        med = np.median(values)
        scale = self._floor(np.array([_MAD_TO_SIGMA * np.median(np.abs(values - med))]),
                            np.array([med]))[0]
        self._since_refresh[name] = 0
        if name in self.columns_:
            j = self.columns_.index(name)
            self.median_[j], self.scale_[j] = med, scale
            self.n_samples_[j] = len(values)
        else:
            self.columns_ = (*self.columns_, name)
            self.median_ = np.append(self.median_, med)
            self.scale_ = np.append(self.scale_, scale)
            self.n_samples_ = np.append(self.n_samples_, len(values))

    def score_one_columns(self, x: Mapping[str, float | None]) -> dict[str, float]:
        """Per-signal scores of one observation, for the signals that have limits."""
        if not hasattr(self, "median_"):
            return {}
        out: dict[str, float] = {}
        for j, name in enumerate(self.columns_):
            value = x.get(name)
            if value is None or not np.isfinite(value):
                continue
            out[name] = float(abs(float(value) - self.median_[j]) / (self.scale_[j] * self.k))
        return out

    def score_one(self, x: Mapping[str, float | None]) -> float | None:
        """Largest per-signal score, or ``None`` while no signal of ``x`` has limits yet."""
        cols = self.score_one_columns(x)
        return max(cols.values()) if cols else None

    # -- persistence ---------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-able learned state (for the ``detector_models.state`` jsonb column)."""
        check_is_fitted(self, ("median_", "scale_"))
        return {
            "detector": type(self).__name__,
            "format": _STATE_FORMAT,
            "params": self.get_params(),
            "columns": list(self.columns_),
            "median": [float(v) for v in self.median_],
            "scale": [float(v) for v in self.scale_],
            "n_samples": [int(v) for v in self.n_samples_],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RobustLimits:
        """Rebuild a detector saved with :meth:`to_state`."""
        if state.get("detector") != cls.__name__ or state.get("format") != _STATE_FORMAT:
            raise StateError(
                f"not a {cls.__name__} state of format {_STATE_FORMAT}: "
                f"detector={state.get('detector')!r} format={state.get('format')!r}")
        try:
            det = cls(**state["params"])
            columns = tuple(str(c) for c in state["columns"])
            median = np.asarray(state["median"], dtype=np.float64)
            scale = np.asarray(state["scale"], dtype=np.float64)
            n_samples = np.asarray(state["n_samples"], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"malformed {cls.__name__} state: {exc}") from exc
        if not (len(columns) == median.shape[0] == scale.shape[0] == n_samples.shape[0]):
            raise StateError("columns, median, scale and n_samples differ in length")
        if not (np.isfinite(median).all() and (scale > 0).all()):
            raise StateError("median must be finite and scale > 0")
        det.columns_, det.median_, det.scale_, det.n_samples_ = columns, median, scale, n_samples
        det._reset_stream()
        return det
