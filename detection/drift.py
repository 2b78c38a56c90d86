"""Slow drift of a signal's level: EWMA and CUSUM control charts, per signal.

Both charts compare each new value with a healthy baseline (``mean_``, ``sigma_``) learned by
:meth:`fit` or, streaming, from the first ``warmup`` observations. Unlike static limits they
accumulate evidence over time, so a shift of half a standard deviation, invisible in any
single value, is flagged after a few dozen samples.

The chart's state (the running average or sums) is advanced by ``learn_one``; ``score_one``
tells what the score would be after ``x`` without changing anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.base import StreamDetector, as_matrix, check_is_fitted
from detection.errors import InvalidInputError

__all__ = ["EwmaDrift", "CusumDrift"]

FloatArray = NDArray[np.float64]
_MAD_TO_SIGMA = 1.4826


class _Chart(StreamDetector):
    """Baseline learning and the per-signal streaming loop shared by both charts."""

    min_sigma: float
    warmup: int
    _pending: list[dict[str, float]]  # streaming warm-up rows, until the baseline exists

    def _fit_baseline(self, arr: FloatArray, names: tuple[str, ...]) -> None:
        median = np.median(arr, axis=0)
        mad = np.median(np.abs(arr - median), axis=0)
        sigma = np.where(mad > 0, _MAD_TO_SIGMA * mad, arr.std(axis=0))
        self.columns_ = names
        self.mean_ = median
        self.sigma_ = np.maximum(sigma, self.min_sigma)
        self._state: dict[str, Any] = {}

    def fit(self, X: ArrayLike, columns: Sequence[str] | None = None) -> Self:
        """Learn the healthy level and noise of each signal; resets the chart."""
        self._validate_params()
        arr = as_matrix(X)
        if arr.shape[0] < 2:
            raise InvalidInputError("need at least 2 healthy rows")
        names = tuple(columns) if columns is not None else tuple(
            f"x{j}" for j in range(arr.shape[1]))
        if len(names) != arr.shape[1]:
            raise InvalidInputError(f"columns must be {arr.shape[1]} names, got {len(names)}")
        self._fit_baseline(arr, names)
        return self

    def score_samples(self, X: ArrayLike) -> FloatArray:
        """Run a fresh chart down the rows of ``X``; largest per-signal score of each row."""
        check_is_fitted(self, ("mean_",))
        arr = as_matrix(X, n_features=self.mean_.shape[0])
        z = (arr - self.mean_) / self.sigma_
        return self._run(z)

    def _validate_params(self) -> None:
        if self.min_sigma <= 0 or self.warmup < 2:
            raise InvalidInputError("min_sigma must be > 0 and warmup >= 2")

    def learn_one(self, x: Mapping[str, float | None]) -> None:
        if not hasattr(self, "mean_"):
            self._validate_params()
            pending: list[dict[str, float]] = self.__dict__.setdefault("_pending", [])
            pending.append({k: float(v) for k, v in x.items()
                            if v is not None and np.isfinite(v)})
            if len(pending) >= self.warmup:
                names = tuple(sorted({k for row in pending for k in row}))
                cols = [np.array([r[c] for r in pending if c in r]) for c in names]
                if all(c.size >= 2 for c in cols):
                    self.columns_ = names
                    self.mean_ = np.array([np.median(c) for c in cols])
                    mad = np.array([np.median(np.abs(c - m)) for c, m in zip(cols, self.mean_,
                                                                              strict=True)])
                    std = np.array([c.std() for c in cols])
                    self.sigma_ = np.maximum(np.where(mad > 0, _MAD_TO_SIGMA * mad, std),
                                             self.min_sigma)
                    self._state = {}
                    del self._pending
            return
        for j, name in enumerate(self.columns_):
            value = x.get(name)
            if value is not None and np.isfinite(value):
                self._state[name] = self._step(self._state.get(name),
                                               (float(value) - self.mean_[j]) / self.sigma_[j])

    def score_one(self, x: Mapping[str, float | None]) -> float | None:
        """Largest per-signal score after ``x``; ``None`` during warm-up or with no signal."""
        if not hasattr(self, "mean_"):
            return None
        scores = []
        for j, name in enumerate(self.columns_):
            value = x.get(name)
            if value is not None and np.isfinite(value):
                state = self._step(self._state.get(name),
                                   (float(value) - self.mean_[j]) / self.sigma_[j])
                scores.append(self._score(state))
        return max(scores) if scores else None

    def _run(self, z: FloatArray) -> FloatArray:
        out = np.empty(z.shape[0])
        states: list[Any] = [None] * z.shape[1]
        for i in range(z.shape[0]):
            states = [self._step(states[j], z[i, j]) for j in range(z.shape[1])]
            out[i] = max(self._score(s) for s in states) if states else np.nan
        return out

    def _step(self, state: Any, z: float) -> Any:
        raise NotImplementedError

    def _score(self, state: Any) -> float:
        raise NotImplementedError


class EwmaDrift(_Chart):
    """EWMA control chart per signal; score = distance of the average to the baseline in
    units of its control limit (above 1 = drift).

    ``e_t = lam * z_t + (1 - lam) * e_{t-1}`` on standardised values ``z``, starting at 0; the
    limit is ``L * sqrt(lam / (2 - lam) * (1 - (1 - lam)**(2 t)))``, exact for the first
    samples too.

    Parameters
    ----------
    lam : float, default=0.1
        Weight of the newest value; smaller remembers longer and finds smaller drifts.
    L : float, default=3.0
        Width of the control limit in standard deviations of the average.
    min_sigma : float, default=1e-9
    warmup : int, default=100
        Streaming baseline: observations learned before the chart starts (without
        :meth:`fit`).

    Attributes
    ----------
    columns_ : tuple of str
    mean_, sigma_ : ndarray of shape (n_features,)
        Healthy median and robust standard deviation.

    References
    ----------
    .. [1] J. M. Lucas and M. S. Saccucci, "Exponentially weighted moving average control
       schemes", Technometrics 32 (1), 1990.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = EwmaDrift(lam=0.1, L=3.0).fit(rng.normal(10.0, 1.0, (500, 1)))
    >>> drifted = rng.normal(10.0, 1.0, (200, 1)) + np.r_[np.zeros(100), np.full(100, 1.0)][:, None]
    >>> s = det.score_samples(drifted)
    >>> bool(s[:100].max() < 1), bool(s[150:].min() > 1)
    (True, True)
    """

    def __init__(self, *, lam: float = 0.1, L: float = 3.0, min_sigma: float = 1e-9,
                 warmup: int = 100) -> None:
        self.lam = lam
        self.L = L
        self.min_sigma = min_sigma
        self.warmup = warmup

    def _validate_params(self) -> None:
        super()._validate_params()
        if not 0 < self.lam <= 1 or self.L <= 0:
            raise InvalidInputError("lam must be in (0, 1] and L > 0")

    def _step(self, state: tuple[float, int] | None, z: float) -> tuple[float, int]:
        e, n = state if state is not None else (0.0, 0)
        return self.lam * z + (1 - self.lam) * e, n + 1

    def _score(self, state: tuple[float, int]) -> float:
        e, n = state
        var = self.lam / (2 - self.lam) * (1 - (1 - self.lam) ** (2 * n))
        return float(abs(e) / (self.L * np.sqrt(var)))


class CusumDrift(_Chart):
    """Two-sided tabular CUSUM per signal; score = larger cumulative sum / ``h`` (above 1 =
    drift).

    ``S+ = max(0, S+ + z - k)`` and ``S- = max(0, S- - z - k)`` on standardised values: each
    sum grows only while values sit more than ``k`` standard deviations on its side.

    Parameters
    ----------
    k : float, default=0.5
        Allowance in standard deviations: half the shift the chart is tuned to find fastest.
    h : float, default=5.0
        Decision interval in standard deviations (4 to 5 is the textbook choice).
    min_sigma : float, default=1e-9
    warmup : int, default=100

    Attributes
    ----------
    columns_ : tuple of str
    mean_, sigma_ : ndarray of shape (n_features,)

    References
    ----------
    .. [1] E. S. Page, "Continuous inspection schemes", Biometrika 41, 1954.
    .. [2] D. C. Montgomery, "Introduction to Statistical Quality Control", 7th ed.,
       section 9.1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> det = CusumDrift(k=0.5, h=5.0).fit(rng.normal(0.0, 1.0, (500, 1)), columns=["p"])
    >>> for v in rng.normal(0.0, 1.0, 50):
    ...     det.learn_one({"p": float(v)})
    >>> det.score_one({"p": 0.0}) < 1
    True
    >>> for v in rng.normal(1.0, 1.0, 40):  # +1 sigma from here on
    ...     det.learn_one({"p": float(v)})
    >>> det.score_one({"p": 1.0}) > 1
    True
    """

    def __init__(self, *, k: float = 0.5, h: float = 5.0, min_sigma: float = 1e-9,
                 warmup: int = 100) -> None:
        self.k = k
        self.h = h
        self.min_sigma = min_sigma
        self.warmup = warmup

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.k < 0 or self.h <= 0:
            raise InvalidInputError("k must be >= 0 and h > 0")

    def _step(self, state: tuple[float, float] | None, z: float) -> tuple[float, float]:
        hi, lo = state if state is not None else (0.0, 0.0)
        return max(0.0, hi + z - self.k), max(0.0, lo - z - self.k)

    def _score(self, state: tuple[float, float]) -> float:
        return float(max(state)) / self.h
