"""Isolation Forest under our sign convention (higher = more anomalous)."""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.ensemble import IsolationForest

from detection.library.base import BatchDetector, as_matrix, check_is_fitted

__all__ = ["IsolationForestDetector"]


class IsolationForestDetector(BatchDetector):
    """Wraps :class:`sklearn.ensemble.IsolationForest`, whose ``score_samples`` is *lower*
    for anomalies; ours is its negation, and :meth:`predict` uses sklearn's own offset.

    Parameters
    ----------
    n_estimators : int, default=100
    contamination : float or "auto", default="auto"
    random_state : int or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> det = IsolationForestDetector(random_state=0).fit(rng.normal(size=(300, 2)))
    >>> s = det.score_samples([[0.0, 0.0], [6.0, 6.0]])
    >>> bool(s[1] > s[0]), det.predict([[0.0, 0.0], [6.0, 6.0]]).tolist()
    (True, [False, True])
    """

    def __init__(self, *, n_estimators: int = 100, contamination: float | str = "auto",
                 random_state: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X: ArrayLike) -> Self:
        self.model_ = IsolationForest(n_estimators=self.n_estimators,
                                      contamination=self.contamination,
                                      random_state=self.random_state).fit(as_matrix(X))
        return self

    def score_samples(self, X: ArrayLike) -> NDArray[np.float64]:
        check_is_fitted(self, ("model_",))
        return np.asarray(-self.model_.score_samples(as_matrix(X)), dtype=np.float64)

    def predict(self, X: ArrayLike, *, threshold: float | None = None) -> NDArray[np.bool_]:
        check_is_fitted(self, ("model_",))
        limit = -self.model_.offset_ if threshold is None else threshold
        return self.score_samples(X) > limit
