"""Faults of the sensor rather than of the machine: a stuck value, or no value at all.

:class:`FlatLine` flags a signal that has not moved beyond a tolerance for ``n_samples``
observations (a frozen encoder, a PLC tag that stopped updating but is still sent).
:class:`StaleData` flags a signal from which no value arrived for ``max_age_s`` seconds; it
works on timestamps, because a stale signal by definition sends no samples to count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.base import StreamDetector, as_matrix
from detection.errors import InvalidInputError

__all__ = ["FlatLine", "StaleData"]

FloatArray = NDArray[np.float64]


class FlatLine(StreamDetector):
    """Stuck-sensor detector: length of the current flat run, in units of ``n_samples``.

    A run starts at an anchor value and continues while every new value stays within
    ``tolerance`` of the anchor; a larger move starts a new run at that value. The score of
    a signal is ``(run length - 1) / n_samples`` (0 right after a move, 1 after
    ``n_samples`` unchanged repeats); the detector's score is the largest over signals.

    Parameters
    ----------
    n_samples : int, default=30
        Repeats of an unchanged value that make a score of 1.
    tolerance : float, default=0.0
        Largest move still counted as "unchanged", in signal units (use about the sensor's
        quantisation step: a noisy healthy signal always moves more than that).

    Attributes
    ----------
    runs_ : dict of str to (float, int)
        Anchor value and run length per signal, advanced by :meth:`learn_one`.

    Examples
    --------
    >>> det = FlatLine(n_samples=3, tolerance=0.01)
    >>> det.score_one({"J1.current": 2.0}) is None  # nothing seen yet
    True
    >>> for v in [2.0, 2.5, 2.5, 2.505, 2.5]:
    ...     det.learn_one({"J1.current": v})
    >>> det.score_one({"J1.current": 2.5}), det.score_one({"J1.current": 2.7})
    (1.3333333333333333, 0.0)
    >>> FlatLine(n_samples=2).score_samples([[1.0], [1.0], [1.0], [2.0]]).tolist()
    [0.0, 0.5, 1.0, 0.0]
    """

    def __init__(self, *, n_samples: int = 30, tolerance: float = 0.0) -> None:
        self.n_samples = n_samples
        self.tolerance = tolerance

    def _validate_params(self) -> None:
        if self.n_samples < 1 or self.tolerance < 0:
            raise InvalidInputError("n_samples must be >= 1 and tolerance >= 0")

    def _advance(self, run: tuple[float, int] | None, value: float) -> tuple[float, int]:
        if run is None or abs(value - run[0]) > self.tolerance:
            return value, 1
        return run[0], run[1] + 1

    def fit(self, X: ArrayLike) -> Self:
        """Nothing to learn from data; validates the parameters and resets the runs."""
        self._validate_params()
        as_matrix(X, allow_nan=True)
        self.runs_: dict[str, tuple[float, int]] = {}
        return self

    def score_samples(self, X: ArrayLike) -> FloatArray:
        """Score of each row of ``X`` from a fresh start; NaN values break no run."""
        self._validate_params()
        arr = as_matrix(X, allow_nan=True)
        runs: list[tuple[float, int] | None] = [None] * arr.shape[1]
        out = np.full(arr.shape[0], np.nan)
        for i, row in enumerate(arr):
            for j, v in enumerate(row):
                if np.isfinite(v):
                    runs[j] = self._advance(runs[j], float(v))
            lengths = [r[1] for r in runs if r is not None]
            if lengths:
                out[i] = (max(lengths) - 1) / self.n_samples
        return out

    def learn_one(self, x: Mapping[str, float | None]) -> None:
        self._validate_params()
        runs = self.__dict__.setdefault("runs_", {})
        for name, value in x.items():
            if value is not None and np.isfinite(value):
                runs[name] = self._advance(runs.get(name), float(value))

    def score_one(self, x: Mapping[str, float | None]) -> float | None:
        """Score if ``x`` were learned next; ``None`` for signals never seen before."""
        runs = self.__dict__.get("runs_", {})
        scores = [(self._advance(runs[n], float(v))[1] - 1) / self.n_samples
                  for n, v in x.items()
                  if n in runs and v is not None and np.isfinite(v)]
        return max(scores) if scores else None


class StaleData(StreamDetector):
    """No value for too long: age of each signal's last value, in units of ``max_age_s``.

    Parameters
    ----------
    max_age_s : float, default=10.0
        Age of the last value, in seconds, that makes a score of 1; a few publish
        intervals of the signal.

    Attributes
    ----------
    last_seen_ : dict of str to float
        Time (seconds, any origin) of the last finite value of each signal.

    Examples
    --------
    >>> det = StaleData(max_age_s=10.0)
    >>> det.score_one({}, t=0.0) is None  # no signal known yet
    True
    >>> det.learn_one({"J1.temperature": 40.0, "J2.temperature": 41.0}, t=100.0)
    >>> det.learn_one({"J1.temperature": 40.1, "J2.temperature": None}, t=112.0)
    >>> det.score_one({}, t=115.0)
    1.5
    >>> det.stale_signals(t=115.0)
    ['J2.temperature']
    """

    def __init__(self, *, max_age_s: float = 10.0) -> None:
        self.max_age_s = max_age_s

    def learn_one(self, x: Mapping[str, float | None], *, t: float | None = None) -> None:
        """Record the signals of ``x`` that carry a finite value at time ``t`` (seconds)."""
        if t is None:
            raise InvalidInputError("StaleData needs the observation time t (seconds)")
        if not self.max_age_s > 0:
            raise InvalidInputError(f"max_age_s must be > 0, got {self.max_age_s!r}")
        seen = self.__dict__.setdefault("last_seen_", {})
        for name, value in x.items():
            if value is not None and np.isfinite(value):
                seen[name] = max(float(t), seen.get(name, float(t)))

    def ages(self, *, t: float) -> dict[str, float]:
        """Seconds since each known signal's last value, at time ``t``."""
        return {name: float(t) - ts for name, ts in self.__dict__.get("last_seen_", {}).items()}

    def score_one(self, x: Mapping[str, float | None], *, t: float | None = None) -> float | None:
        """Largest age at ``t`` over the known signals, counting ``x`` as arrived at ``t``."""
        if t is None:
            raise InvalidInputError("StaleData needs the observation time t (seconds)")
        ages = self.ages(t=t)
        for name, value in x.items():
            if value is not None and np.isfinite(value):
                ages[name] = 0.0
        return max(ages.values()) / self.max_age_s if ages else None

    def stale_signals(self, *, t: float) -> list[str]:
        """Signals whose last value is older than ``max_age_s`` at time ``t``, sorted."""
        return sorted(n for n, age in self.ages(t=t).items() if age > self.max_age_s)
