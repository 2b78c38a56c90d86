"""Multivariate PCA monitoring: Hotelling T^2 inside the model plane, Q (SPE) off it."""

from __future__ import annotations

from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.errors import InvalidInputError
from detection.library.base import BatchDetector, as_matrix, check_is_fitted

__all__ = ["PcaT2Q"]

FloatArray = NDArray[np.float64]


class PcaT2Q(BatchDetector):
    """PCA on standardised healthy data; score = T^2 / T^2_ref + Q / Q_ref.

    T^2 measures how far a sample lies from the centre *inside* the plane of the first
    ``n_components`` principal axes (a familiar operating point pushed too far); Q, the
    squared prediction error, measures how far it lies *off* that plane (a broken
    correlation between signals). Each is divided by its ``ref_quantile`` on the training
    data, so a score of about 2 is a typical healthy upper value and both halves weigh alike.

    Parameters
    ----------
    n_components : int, default=2
    ref_quantile : float, default=0.99
        Quantile of the training T^2 and Q used as their unit.
    threshold : float, default=2.0
        Used by :meth:`predict`; calibrate it with :mod:`detection.thresholds` instead when
        a false-alarm budget is known.

    Attributes
    ----------
    mean_, std_ : ndarray of shape (n_features,)
    components_ : ndarray of shape (n_components, n_features)
    explained_variance_ : ndarray of shape (n_components,)
    t2_ref_, q_ref_ : float

    References
    ----------
    .. [1] J. E. Jackson and G. S. Mudholkar, "Control procedures for residuals associated
       with principal component analysis", Technometrics 21 (3), 1979.

    Examples
    --------
    >>> import numpy as np
    >>> from detection.library.pca import PcaT2Q
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(size=(500, 1))
    >>> healthy = np.hstack([t, 2 * t + rng.normal(0, 0.1, (500, 1))])
    >>> det = PcaT2Q(n_components=1).fit(healthy)
    >>> np.round(det.score_samples([[0.0, 0.0], [1.0, -2.0]]), 1)
    array([  0. , 266.4])
    """

    def __init__(self, *, n_components: int = 2, ref_quantile: float = 0.99,
                 threshold: float = 2.0) -> None:
        self.n_components = n_components
        self.ref_quantile = ref_quantile
        self.threshold = threshold

    def fit(self, X: ArrayLike) -> Self:
        arr = as_matrix(X)
        n, d = arr.shape
        if not 1 <= self.n_components <= d:
            raise InvalidInputError(f"n_components must be in 1..{d}, got {self.n_components}")
        if n <= d:
            raise InvalidInputError(f"need more training rows ({n}) than features ({d})")
        if not 0 < self.ref_quantile <= 1:
            raise InvalidInputError("ref_quantile must be in (0, 1]")
        mean = arr.mean(axis=0)
        std = arr.std(axis=0)
        # A constant training column carries no information; unit scale keeps it finite.
        std = np.where(std > 1e-12, std, 1.0)
        z = (arr - mean) / std
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        self.mean_, self.std_ = mean, std
        self.components_ = vt[: self.n_components]
        self.explained_variance_ = (s[: self.n_components] ** 2) / (n - 1)
        # A component with zero variance would make T^2 infinite for any movement along it.
        self.explained_variance_ = np.maximum(self.explained_variance_, 1e-12)
        t2, q = self._t2_q(z)
        self.t2_ref_ = max(float(np.quantile(t2, self.ref_quantile)), 1e-12)
        self.q_ref_ = max(float(np.quantile(q, self.ref_quantile)), 1e-12)
        return self

    def _t2_q(self, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        scores = z @ self.components_.T
        t2 = (scores**2 / self.explained_variance_).sum(axis=1)
        residual = z - scores @ self.components_
        return t2, (residual**2).sum(axis=1)

    def t2_q(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Raw Hotelling T^2 and Q of each row."""
        check_is_fitted(self, ("components_",))
        arr = as_matrix(X, n_features=self.mean_.shape[0])
        return self._t2_q((arr - self.mean_) / self.std_)

    def score_samples(self, X: ArrayLike) -> FloatArray:
        t2, q = self.t2_q(X)
        return t2 / self.t2_ref_ + q / self.q_ref_
