"""Health index of a component, 0..1, from a degradation indicator.

The indicator is any number that grows as the component wears: an anomaly score, a
vibration RMS, a friction estimate. Its healthy level is learned from healthy data; the
level at which the component is considered failed comes from the service policy (a
maintenance limit, never a number in code). Health is 1 at the healthy level, 0 at the
failure level, linear in between, clipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.errors import InvalidInputError
from detection.library.base import _Params, check_is_fitted

__all__ = ["HealthIndex", "component_health"]

FloatArray = NDArray[np.float64]


class HealthIndex(_Params):
    """Maps a degradation indicator to a health index in [0, 1].

    Parameters
    ----------
    failure_level : float
        Indicator value at which health is 0 (from the maintenance policy).
    healthy_quantile : float, default=0.5
        Quantile of the healthy indicator taken as "health 1": the median ignores the odd
        healthy spike; a higher quantile forgives more noise.

    Attributes
    ----------
    healthy_level_ : float

    Examples
    --------
    >>> hi = HealthIndex(failure_level=10.0).fit([1.0, 2.0, 3.0])
    >>> hi.healthy_level_
    2.0
    >>> hi.health([1.0, 2.0, 6.0, 10.0, 12.0]).tolist()
    [1.0, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(self, *, failure_level: float, healthy_quantile: float = 0.5) -> None:
        self.failure_level = failure_level
        self.healthy_quantile = healthy_quantile

    def fit(self, healthy_indicator: ArrayLike) -> Self:
        v = np.asarray(healthy_indicator, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if v.size == 0:
            raise InvalidInputError("no finite healthy indicator value")
        if not 0 <= self.healthy_quantile <= 1:
            raise InvalidInputError("healthy_quantile must be in [0, 1]")
        level = float(np.quantile(v, self.healthy_quantile))
        if not self.failure_level > level:
            raise InvalidInputError(
                f"failure_level {self.failure_level!r} must exceed the healthy level {level:.6g}"
                " (an indicator that grows with wear)")
        self.healthy_level_ = level
        return self

    def health(self, indicator: ArrayLike) -> FloatArray:
        """Health of each indicator value; NaN stays NaN (unknown, not failed)."""
        check_is_fitted(self, ("healthy_level_",))
        v = np.asarray(indicator, dtype=np.float64)
        h = 1 - (v - self.healthy_level_) / (self.failure_level - self.healthy_level_)
        return np.clip(h, 0.0, 1.0)


def component_health(indices: Mapping[str, HealthIndex],
                     indicators: Mapping[str, float | None]) -> dict[str, float | None]:
    """Health per component (``None`` when its indicator is missing).

    Examples
    --------
    >>> idx = {"J1.gearbox": HealthIndex(failure_level=4.0).fit([1.0]),
    ...        "J2.gearbox": HealthIndex(failure_level=4.0).fit([1.0])}
    >>> component_health(idx, {"J1.gearbox": 2.5, "J2.gearbox": None})
    {'J1.gearbox': 0.5, 'J2.gearbox': None}
    """
    out: dict[str, float | None] = {}
    for name, index in indices.items():
        value = indicators.get(name)
        out[name] = (None if value is None or not np.isfinite(value)
                     else float(index.health([value])[0]))
    return out
