"""Seasonal robust z-score: one baseline per phase of a repeating program cycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.base import StreamDetector, as_matrix, check_is_fitted
from detection.errors import InvalidInputError
from detection.limits import RobustLimits

__all__ = ["SeasonalRobustZ"]

FloatArray = NDArray[np.float64]


class SeasonalRobustZ(StreamDetector):
    """Robust limits learned separately for each phase of the robot's program cycle.

    A welding robot draws 8 A while it accelerates and 2 A while it waits: one set of limits
    for the whole cycle must tolerate both, and so misses a 5 A draw during the wait. Here
    the cycle is cut into ``n_phases`` equal bins of its position ``phase`` in ``[0, 1)``
    (time since the cycle started / cycle time, or the program step), and each bin has its
    own ``median +/- k * 1.4826 * MAD`` per signal (a :class:`~detection.limits.RobustLimits`).

    Parameters
    ----------
    n_phases : int, default=20
        Bins of the cycle. More bins follow the profile more closely but need more healthy
        cycles: each bin needs ``min_samples`` values.
    k : float, default=6.0
    min_scale, rel_min_scale : float
        Scale floors, as in :class:`~detection.limits.RobustLimits`.
    min_samples : int, default=30
        Values a bin needs (batch and streaming) before it scores; fewer give ``None``/NaN.
    window, refresh_every : int
        Streaming learning per bin, as in :class:`~detection.limits.RobustLimits`.

    Attributes
    ----------
    phases_ : list of RobustLimits or None
        Limits of each bin; ``None`` for a bin with fewer than ``min_samples`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> phase = np.tile(np.arange(100) / 100, 20)          # 20 healthy cycles
    >>> current = np.where(phase < 0.5, 8.0, 2.0) + rng.normal(0, 0.1, phase.size)
    >>> det = SeasonalRobustZ(n_phases=10, k=6.0).fit(current[:, None], phase=phase)
    >>> np.round(det.score_samples([[8.0], [5.0]], phase=[0.2, 0.8]), 2)
    array([0.  , 5.43])
    >>> round(det.score_one({"x0": 5.0}, phase=0.3), 2)  # 5 A is fine in no phase
    4.83
    """

    def __init__(self, *, n_phases: int = 20, k: float = 6.0, min_scale: float = 1e-6,
                 rel_min_scale: float = 1e-3, min_samples: int = 30, window: int = 2000,
                 refresh_every: int = 50) -> None:
        self.n_phases = n_phases
        self.k = k
        self.min_scale = min_scale
        self.rel_min_scale = rel_min_scale
        self.min_samples = min_samples
        self.window = window
        self.refresh_every = refresh_every

    def _new_limits(self) -> RobustLimits:
        return RobustLimits(k=self.k, min_scale=self.min_scale, rel_min_scale=self.rel_min_scale,
                            window=self.window, min_samples=self.min_samples,
                            refresh_every=self.refresh_every)

    def _bins(self, phase: ArrayLike) -> NDArray[np.int64]:
        if self.n_phases < 1:
            raise InvalidInputError(f"n_phases must be >= 1, got {self.n_phases!r}")
        p = np.asarray(phase, dtype=np.float64)
        if not np.isfinite(p).all() or (p < 0).any() or (p >= 1).any():
            raise InvalidInputError("phase must be in [0, 1) (position within the cycle)")
        return np.minimum((p * self.n_phases).astype(np.int64), self.n_phases - 1)

    def fit(self, X: ArrayLike, *, phase: ArrayLike,
            columns: Sequence[str] | None = None) -> Self:
        """Learn limits per phase bin from healthy rows and their cycle positions."""
        arr = as_matrix(X, allow_nan=True)
        bins = self._bins(phase)
        if bins.shape != (arr.shape[0],):
            raise InvalidInputError(f"phase must have {arr.shape[0]} values, got {bins.shape}")
        self.phases_: list[RobustLimits | None] = []
        for b in range(self.n_phases):
            rows = arr[bins == b]
            ok = rows.shape[0] >= self.min_samples
            self.phases_.append(self._new_limits().fit(rows, columns=columns) if ok else None)
        if all(p is None for p in self.phases_):
            raise InvalidInputError(
                f"no phase bin has {self.min_samples} healthy rows; use fewer n_phases")
        return self

    def score_samples(self, X: ArrayLike, *, phase: ArrayLike) -> FloatArray:
        """Largest per-signal score of each row against its bin; NaN for an unlearned bin."""
        check_is_fitted(self, ("phases_",))
        arr = as_matrix(X, allow_nan=True)
        bins = self._bins(phase)
        out = np.full(arr.shape[0], np.nan)
        for b in np.unique(bins):
            lim = self.phases_[b]
            if lim is not None:
                out[bins == b] = lim.score_samples(arr[bins == b])
        return out

    def _bin(self, phase: float | None) -> int:
        if phase is None:
            raise InvalidInputError("SeasonalRobustZ needs the cycle position phase in [0, 1)")
        return int(self._bins([phase])[0])

    def learn_one(self, x: Mapping[str, float | None], *, phase: float | None = None) -> None:
        """Learn one healthy observation into the bin of ``phase`` (required)."""
        b = self._bin(phase)
        phases = self.__dict__.setdefault("phases_", [None] * self.n_phases)
        if phases[b] is None:
            phases[b] = self._new_limits()
        phases[b].learn_one(x)

    def score_one(self, x: Mapping[str, float | None], *,
                  phase: float | None = None) -> float | None:
        """Score of ``x`` against the bin of ``phase``; ``None`` while that bin warms up."""
        b = self._bin(phase)
        phases: list[RobustLimits | None] | None = self.__dict__.get("phases_")
        if phases is None:
            return None
        limits = phases[b]
        return None if limits is None else limits.score_one(x)
