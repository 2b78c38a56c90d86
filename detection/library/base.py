"""The two detector contracts: batch (``fit``/``score_samples``) and streaming
(``learn_one``/``score_one``).

One sign convention everywhere: a higher score means more anomalous. Scoring is kept apart
from deciding: a detector returns scores, and a threshold (see :mod:`detection.thresholds`)
turns scores into decisions.
"""

from __future__ import annotations

import inspect
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection.errors import InconsistentVersionWarning, InvalidInputError, NotFittedError

__all__ = ["BatchDetector", "StreamDetector", "check_is_fitted", "as_matrix", "code_version"]

# Key under which a pickled detector carries the version of the code that made it.
_VERSION_KEY = "_robowatch_version"


def code_version() -> str:
    """Installed robowatch version, or ``"unknown"`` when running from an uninstalled tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("robowatch")
    except PackageNotFoundError:
        return "unknown"

FloatArray = NDArray[np.float64]


def check_is_fitted(detector: object, attributes: tuple[str, ...] | None = None) -> None:
    """Raise :class:`NotFittedError` unless ``detector`` holds its learned state.

    Without ``attributes``, any public attribute ending in ``_`` counts as learned state,
    which is what ``fit`` sets and ``__init__`` never does.
    """
    if attributes is None:
        fitted = any(k.endswith("_") and not k.startswith("_") for k in vars(detector))
    else:
        fitted = all(hasattr(detector, a) for a in attributes)
    if not fitted:
        raise NotFittedError(
            f"{type(detector).__name__} is not fitted yet; call fit() (or learn_one()) first"
        )


def as_matrix(X: ArrayLike, *, n_features: int | None = None,
              allow_nan: bool = False) -> FloatArray:
    """``X`` as a 2-D float64 array, with a clear error when it cannot be one."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"input is not numeric: {exc}") from exc
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidInputError(f"expected a 2-D array [n_samples, n_features], got {arr.ndim}-D")
    if n_features is not None and arr.shape[1] != n_features:
        raise InvalidInputError(f"expected {n_features} features, got {arr.shape[1]}")
    if not allow_nan and not np.isfinite(arr).all():
        raise InvalidInputError("input contains NaN or infinite values")
    return arr


class _Params:
    """Parameter introspection shared by both contracts (the ``BaseEstimator`` habit).

    ``__init__`` of a subclass only stores its keyword-only arguments unchanged, so the
    parameters can be read back (to store them beside a model) and the detector re-created.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind is p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # A pickle records the code version beside the learned state (the sklearn habit), so
    # that a model trained by one release and loaded by another says so instead of
    # silently scoring with changed semantics.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        state[_VERSION_KEY] = code_version()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        pickled = state.pop(_VERSION_KEY, "pre-versioning")
        current = code_version()
        if pickled != current:
            warnings.warn(InconsistentVersionWarning(
                detector=type(self).__name__, pickled_version=str(pickled),
                current_version=current), stacklevel=2)
        self.__dict__.update(state)


class BatchDetector(_Params, ABC):
    """Learns from a healthy matrix, scores matrices. Higher score = more anomalous.

    Subclasses implement :meth:`fit` and :meth:`score_samples`; :meth:`predict` compares
    scores to ``threshold`` (a parameter of the subclass or the default 1.0, "outside the
    limits", for detectors whose scores are already normalised).
    """

    @abstractmethod
    def fit(self, X: ArrayLike) -> Self: ...

    @abstractmethod
    def score_samples(self, X: ArrayLike) -> FloatArray: ...

    def predict(self, X: ArrayLike, *, threshold: float | None = None) -> NDArray[np.bool_]:
        """``True`` where the score exceeds ``threshold`` (default: the detector's own)."""
        limit = threshold if threshold is not None else getattr(self, "threshold", 1.0)
        return self.score_samples(X) > limit


class StreamDetector(_Params, ABC):
    """Learns and scores one observation (a mapping signal -> value) at a time.

    :meth:`score_one` returns ``None`` while the detector is still warming up: returning 0
    would look like "normal" to whoever reads the score.
    """

    @abstractmethod
    def learn_one(self, x: Mapping[str, float]) -> None: ...

    @abstractmethod
    def score_one(self, x: Mapping[str, float]) -> float | None: ...
