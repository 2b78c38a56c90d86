"""Rate-of-change limits: how fast a signal may move, learned from healthy data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.base import StreamDetector, as_matrix, check_is_fitted
from detection.errors import InvalidInputError
from detection.limits import RobustLimits

__all__ = ["RateOfChangeLimits"]

FloatArray = NDArray[np.float64]


class RateOfChangeLimits(StreamDetector):
    """Robust limits on the rate of change ``dx/dt`` of each signal.

    A joint temperature that climbs 5 K in a minute may still be inside its static limits
    (:class:`~detection.limits.RobustLimits`) while no healthy run ever did that: the rate
    is the earlier sign. Rates are per second when timestamps are given, per sample
    otherwise; their limits are ``median +/- k * 1.4826 * MAD`` of healthy rates, so the
    score is in units of the limit (above 1 = too fast).

    Parameters
    ----------
    k : float, default=6.0
        Half-width of the limits, in robust standard deviations of the healthy rates.
    min_scale : float, default=1e-9
        Absolute floor of the rate scale (a signal constant in training has a MAD of 0).
    min_dt : float, default=1e-6
        Smallest time step used, in seconds; a repeated timestamp would divide by zero.
    window, min_samples, refresh_every : int
        Streaming learning, as in :class:`~detection.limits.RobustLimits`.

    Attributes
    ----------
    limits_ : RobustLimits
        Limits of the rates (``limits_.median_``, ``limits_.scale_``, ``limits_.columns_``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(500.0)
    >>> healthy = 40 + 0.01 * t[:, None] + rng.normal(0, 0.05, (500, 1))
    >>> det = RateOfChangeLimits(k=6.0).fit(healthy, t=t, columns=["J1.temperature"])
    >>> det.learn_one({"J1.temperature": 45.0}, t=0.0)
    >>> det.score_one({"J1.temperature": 45.01}, t=1.0) < 1
    True
    >>> round(det.score_one({"J1.temperature": 47.0}, t=1.0), 1)
    5.1
    """

    def __init__(self, *, k: float = 6.0, min_scale: float = 1e-9, min_dt: float = 1e-6,
                 window: int = 2000, min_samples: int = 30, refresh_every: int = 50) -> None:
        self.k = k
        self.min_scale = min_scale
        self.min_dt = min_dt
        self.window = window
        self.min_samples = min_samples
        self.refresh_every = refresh_every

    def _new_limits(self) -> RobustLimits:
        return RobustLimits(k=self.k, min_scale=self.min_scale, rel_min_scale=0.0,
                            window=self.window, min_samples=self.min_samples,
                            refresh_every=self.refresh_every)

    def _rates(self, X: ArrayLike, t: ArrayLike | None) -> FloatArray:
        arr = as_matrix(X, allow_nan=True)
        if arr.shape[0] < 2:
            raise InvalidInputError("need at least 2 rows to compute a rate")
        if t is None:
            dt = np.ones(arr.shape[0] - 1)
        else:
            ts = np.asarray(t, dtype=np.float64)
            if ts.shape != (arr.shape[0],):
                raise InvalidInputError(f"t must have {arr.shape[0]} values, got {ts.shape}")
            dt = np.diff(ts)
            if (dt < 0).any():
                raise InvalidInputError("timestamps must not decrease")
            dt = np.maximum(dt, self.min_dt)
        return np.diff(arr, axis=0) / dt[:, None]

    def fit(self, X: ArrayLike, *, t: ArrayLike | None = None,
            columns: Sequence[str] | None = None) -> Self:
        """Learn rate limits from consecutive healthy rows (``t`` in seconds, optional)."""
        if self.min_dt <= 0:
            raise InvalidInputError("min_dt must be > 0")
        self.limits_ = self._new_limits().fit(self._rates(X, t), columns=columns)
        self._last: dict[str, tuple[float, float]] = {}
        return self

    def score_samples(self, X: ArrayLike, *, t: ArrayLike | None = None) -> FloatArray:
        """Score of each row against the previous one; the first row is NaN (no rate)."""
        check_is_fitted(self, ("limits_",))
        rates = self._rates(X, t)
        return np.concatenate([[np.nan], self.limits_.score_samples(rates)])

    # -- streaming -----------------------------------------------------------------------

    def _stream_rates(self, x: Mapping[str, float | None], t: float | None) -> dict[str, float]:
        last: dict[str, tuple[float, float]] = self.__dict__.setdefault("_last", {})
        out: dict[str, float] = {}
        for name, value in x.items():
            if value is None or not np.isfinite(value) or name not in last:
                continue
            v0, t0 = last[name]
            dt = 1.0 if t is None else max(float(t) - t0, self.min_dt)
            out[name] = (float(value) - v0) / dt
        return out

    def learn_one(self, x: Mapping[str, float | None], *, t: float | None = None) -> None:
        """Learn the rates from the previous observation to ``x`` and remember ``x``."""
        if not hasattr(self, "limits_"):
            self.limits_ = self._new_limits()
        rates = self._stream_rates(x, t)
        if rates:
            self.limits_.learn_one(rates)
        last: dict[str, tuple[float, float]] = self.__dict__.setdefault("_last", {})
        previous_t = max((v[1] for v in last.values()), default=-1.0)
        now = float(t) if t is not None else previous_t + 1.0
        for name, value in x.items():
            if value is not None and np.isfinite(value):
                last[name] = (float(value), now)

    def score_one(self, x: Mapping[str, float | None], *, t: float | None = None) -> float | None:
        """Largest rate score of ``x`` against the last learned observation, or ``None``."""
        if not hasattr(self, "limits_"):
            return None
        return self.limits_.score_one(self._stream_rates(x, t))
