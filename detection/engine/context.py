"""Vectorised helpers of the streaming engine: what a robot was doing at each point's time.

The controller reports its state (``program_state``, ``cycle_count``, ``cycle_time``,
``alarm_code``) as ordinary signals, a few per tick. The engine needs, for every scored
point, the state *as of* that point's time, and the position within the program cycle.
These helpers answer that for a whole batch with sorts and binary searches instead of a
Python loop over points, which is what lets one core score a fleet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["asof", "last_per_group", "group_starts", "rank_in_group", "grown"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def grown(old: NDArray[Any], shape: tuple[int, ...], fill: float,
          dtype: Any = np.float64) -> NDArray[Any]:
    """A ``shape`` array filled with ``fill`` that keeps what ``old`` held where they overlap
    (per-robot tables grow as robots and signals are added).

    Examples
    --------
    >>> grown(np.array([[1.0, 2.0]]), (2, 3), np.nan).tolist()
    [[1.0, 2.0, nan], [nan, nan, nan]]
    """
    new = np.full(shape, fill, dtype)
    both = tuple(slice(0, min(a, b)) for a, b in zip(old.shape, shape, strict=True))
    new[both] = old[both]
    return new


def _keys(slot: IntArray, t: FloatArray, t0: float, width: float) -> FloatArray:
    return slot.astype(np.float64) * width + (t - t0)


def asof(ctx_slot: IntArray, ctx_t: FloatArray, ctx_v: FloatArray, carry: FloatArray,
         slot: IntArray, t: FloatArray) -> FloatArray:
    """Value of a controller signal at each point: its latest sample at or before ``t``.

    ``ctx_*`` are that signal's samples in this batch (any order); ``carry[slot]`` is each
    robot's last value from earlier batches (NaN: never seen).

    Examples
    --------
    >>> asof(np.array([0, 0]), np.array([1.0, 3.0]), np.array([10.0, 30.0]),
    ...      np.array([5.0, np.nan]), np.array([0, 0, 0, 1]), np.array([0.5, 1.0, 4.0, 2.0]))
    array([ 5., 10., 30., nan])
    """
    out = carry[slot].astype(np.float64, copy=True)
    if ctx_t.size == 0 or t.size == 0:
        return out
    t0 = float(min(ctx_t.min(), t.min()))
    width = float(max(ctx_t.max(), t.max()) - t0) + 1.0
    ck = _keys(ctx_slot, ctx_t, t0, width)
    order = np.argsort(ck, kind="stable")
    ck, cs, cv = ck[order], ctx_slot[order], ctx_v[order]
    idx = np.searchsorted(ck, _keys(slot, t, t0, width), side="right") - 1
    ok = idx >= 0
    ok[ok] = cs[idx[ok]] == slot[ok]
    out[ok] = cv[idx[ok]]
    return out


def last_per_group(group: IntArray, t: FloatArray, v: FloatArray,
                   n_groups: int) -> tuple[FloatArray, FloatArray]:
    """Time and value of the latest sample per group (NaN where a group has none)."""
    last_t = np.full(n_groups, np.nan)
    last_v = np.full(n_groups, np.nan)
    if t.size:
        order = np.lexsort((t, group))
        g = group[order]
        end = np.flatnonzero(np.append(g[1:] != g[:-1], True))
        last_t[g[end]] = t[order][end]
        last_v[g[end]] = v[order][end]
    return last_t, last_v


def group_starts(sorted_keys: IntArray) -> tuple[IntArray, IntArray]:
    """Start and end (exclusive) of each run of equal keys in a sorted array."""
    if sorted_keys.size == 0:
        e = np.empty(0, np.int64)
        return e, e
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    ends = np.append(starts[1:], sorted_keys.size)
    return starts, ends


def rank_in_group(starts: IntArray, ends: IntArray, n: int) -> IntArray:
    """Position of each element within its run (0 for the first)."""
    first = np.repeat(starts, ends - starts)
    return np.arange(n) - first
