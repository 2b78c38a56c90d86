"""Deciding, apart from scoring: threshold objects calibrated on healthy scores."""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.errors import InvalidInputError
from detection.library.base import check_is_fitted

__all__ = ["QuantileThreshold"]


class QuantileThreshold:
    """``limit_ = factor * quantile(healthy_scores, q)``; ``classify(score) -> bool``.

    With ``q=1.0`` the limit is ``factor`` times the largest healthy score seen, a margin
    that needs no assumption on the score's distribution.

    Examples
    --------
    >>> th = QuantileThreshold(q=1.0, factor=1.5).fit([0.5, 1.0, 2.0])
    >>> th.limit_, th.classify(2.9), th.classify(3.1)
    (3.0, False, True)
    """

    def __init__(self, *, q: float = 0.99, factor: float = 1.0) -> None:
        self.q = q
        self.factor = factor

    def __repr__(self) -> str:
        return f"QuantileThreshold(q={self.q!r}, factor={self.factor!r})"

    def fit(self, scores: ArrayLike) -> Self:
        s = np.asarray(scores, dtype=np.float64)
        s = s[np.isfinite(s)]
        if s.size == 0:
            raise InvalidInputError("no finite healthy score to calibrate a threshold on")
        if not 0 < self.q <= 1 or self.factor <= 0:
            raise InvalidInputError("q must be in (0, 1] and factor > 0")
        self.limit_ = float(self.factor * np.quantile(s, self.q))
        return self

    def classify(self, score: float | None) -> bool:
        check_is_fitted(self, ("limit_",))
        return score is not None and score > self.limit_

    def classify_many(self, scores: ArrayLike) -> NDArray[np.bool_]:
        check_is_fitted(self, ("limit_",))
        s = np.asarray(scores, dtype=np.float64)
        return np.isfinite(s) & (s > self.limit_)
