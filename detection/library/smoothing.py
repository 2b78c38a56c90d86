"""Causal smoothing of signals and scores: each output row uses only rows up to itself."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ewma"]


def ewma(X: ArrayLike, *, alpha: float) -> NDArray[np.float64]:
    """Exponentially weighted moving average down the rows, started at the first row.

    ``alpha`` = 1 returns the input. NaN rows are skipped (the previous average carries on).

    Examples
    --------
    >>> ewma([0.0, 10.0, 10.0], alpha=0.5).tolist()
    [0.0, 5.0, 7.5]
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    arr = np.array(X, dtype=np.float64)
    if alpha == 1 or arr.shape[0] == 0:
        return arr
    out = np.empty_like(arr)
    state = arr[0].copy()
    for i in range(arr.shape[0]):
        row = arr[i]
        ok = np.isfinite(row)
        state = np.where(ok & np.isfinite(state), alpha * row + (1 - alpha) * state,
                         np.where(ok, row, state))
        out[i] = state
    return out
