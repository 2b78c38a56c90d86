"""Robust statistics shared by the streaming engine and the detector library.

The one place that turns a median absolute deviation into a standard deviation, and that
floors a learnt scale: the engine's per-robot limits (:mod:`detection.engine.baseline`) and
the library's detectors (:mod:`detection.library.changepoint`) both learn their noise
scales here, so a limit means the same thing wherever it is computed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAD_TO_SIGMA", "median_mad", "group_median_mad", "group_quantiles", "floored_scale"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# 1.4826 * MAD estimates the standard deviation of a normal distribution (1 / Phi^-1(3/4)).
MAD_TO_SIGMA = 1.4826


def median_mad(X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Median and MAD of each column of ``X`` (rows are samples; no NaN).

    Examples
    --------
    >>> med, mad = median_mad(np.array([[1.0, 10.0], [2.0, 10.0], [9.0, 13.0]]))
    >>> med.tolist(), mad.tolist()
    ([2.0, 10.0], [1.0, 0.0])
    """
    median = np.median(X, axis=0)
    return median, np.median(np.abs(X - median), axis=0)


def group_median_mad(groups: IntArray, values: FloatArray,
                     n_groups: int) -> tuple[FloatArray, FloatArray, IntArray]:
    """Median, MAD and count of ``values`` per group id in ``[0, n_groups)``, vectorised.

    Groups without values get NaN. One sort per statistic instead of one per group: a
    fleet's worth of (signal, phase) groups is learnt in milliseconds.

    Examples
    --------
    >>> med, mad, n = group_median_mad(np.array([0, 0, 0, 2]), np.array([1., 5., 2., 7.]), 3)
    >>> med.tolist(), mad.tolist(), n.tolist()
    ([2.0, nan, 7.0], [1.0, nan, 0.0], [3, 0, 1])
    """

    def medians(v: FloatArray) -> FloatArray:
        order = np.lexsort((v, groups))
        sv = v[order]
        counts = np.bincount(groups, minlength=n_groups)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        out = np.full(n_groups, np.nan)
        has = counts > 0
        lo = starts[has] + (counts[has] - 1) // 2
        hi = starts[has] + counts[has] // 2
        out[has] = 0.5 * (sv[lo] + sv[hi])
        return out

    n = np.bincount(groups, minlength=n_groups).astype(np.int64)
    med = medians(values)
    mad = medians(np.abs(values - med[groups]))
    return med, mad, n


def group_quantiles(groups: IntArray, values: FloatArray, n_groups: int,
                    q: float) -> tuple[FloatArray, FloatArray]:
    """The ``q`` and ``1 - q`` quantiles (nearest rank) of ``values`` per group; NaN if empty.

    Examples
    --------
    >>> lo, hi = group_quantiles(np.array([0, 0, 0, 0, 1]), np.array([4., 1., 3., 2., 9.]), 3, 0.0)
    >>> lo.tolist(), hi.tolist()
    ([1.0, 9.0, nan], [4.0, 9.0, nan])
    """
    order = np.lexsort((values, groups))
    sv = values[order]
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    lo, hi = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    has = counts > 0
    span = counts[has] - 1
    lo[has] = sv[starts[has] + np.floor(q * span).astype(np.int64)]
    hi[has] = sv[starts[has] + np.ceil((1 - q) * span).astype(np.int64)]
    return lo, hi


def floored_scale(sigma: FloatArray, median: FloatArray, *, min_scale: float,
                  rel_min_scale: float) -> FloatArray:
    """``sigma`` never below ``max(min_scale, rel_min_scale * |median|)``; NaN where the
    median is NaN (no data, no limit).

    A constant signal has a MAD of 0, which would make every wiggle an infinitely large
    deviation; a quantised signal at 1000 that never moved while learning should still
    tolerate a step of a few units.

    Examples
    --------
    >>> floored_scale(np.array([0.0, 2.0, 1.0]), np.array([100.0, 5.0, np.nan]),
    ...               min_scale=0.01, rel_min_scale=0.01).tolist()
    [1.0, 2.0, nan]
    """
    floor = np.maximum(min_scale, rel_min_scale * np.abs(median))
    return np.where(np.isfinite(median), np.maximum(sigma, floor), np.nan)
