"""Memory of each (robot, column) series between batches: the flat-line clock and the last
values kept as evidence.

Both are tables ``[robot slot, column]`` updated for a whole batch at once; the points of a
batch arrive sorted by (slot, column) and in time order within each series.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detection.engine.context import group_starts, grown, rank_in_group

__all__ = ["FlatLines", "EvidenceRing"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class FlatLines:
    """Stuck-sensor clock: since when each series has held its current value.

    Parameters
    ----------
    flat_s : float
        Seconds unchanged that score 1 (``[engine] flat_s``; 0 turns the rule off).
    """

    def __init__(self, flat_s: float) -> None:
        self.flat_s = flat_s
        self._value: FloatArray = np.full((1, 0), np.nan)
        self._since: FloatArray = np.full((1, 0), np.nan)

    def resize(self, n_slots: int, n_columns: int) -> None:
        shape = (max(n_slots, 1), n_columns)
        self._value = grown(self._value, shape, np.nan)
        self._since = grown(self._since, shape, np.nan)

    def score(self, slot: IntArray, col: IntArray, t: FloatArray, v: FloatArray,
              watched: NDArray[np.bool_], running: NDArray[np.bool_]) -> FloatArray:
        """Seconds since each point's signal last changed, in units of ``flat_s``; NaN for
        points not ``watched`` or not ``running``."""
        out = np.full(t.shape, np.nan)
        if self.flat_s <= 0 or not watched.any():
            return out
        idx = np.flatnonzero(watched)
        s, c, tt, vv = slot[idx], col[idx], t[idx], v[idx]
        starts, ends = group_starts(s * self._value.shape[1] + c)
        prev = np.concatenate(([np.nan], vv[:-1]))
        prev[starts] = self._value[s[starts], c[starts]]
        changed = vv != prev
        since = np.where(changed, tt, np.nan)
        first = starts[~changed[starts]]
        since[first] = self._since[s[first], c[first]]
        unknown = starts[np.isnan(since[starts])]
        since[unknown] = tt[unknown]
        pos = np.where(np.isfinite(since), np.arange(since.size), 0)
        since = since[np.maximum.accumulate(pos)]
        last = ends - 1
        self._value[s[last], c[last]] = vv[last]
        self._since[s[last], c[last]] = since[last]
        out[idx] = np.where(running[idx], (tt - since) / self.flat_s, np.nan)
        return out


class EvidenceRing:
    """The last ``size`` values of every scored series (ring buffers), for the evidence
    snapshot of an anomaly."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._t: FloatArray = np.full((1, 0, size), np.nan)
        self._v: FloatArray = np.full((1, 0, size), np.nan)
        self._ptr: IntArray = np.zeros((1, 0), np.int64)

    def resize(self, n_slots: int, n_columns: int) -> None:
        r = max(n_slots, 1)
        self._t = grown(self._t, (r, n_columns, self.size), np.nan)
        self._v = grown(self._v, (r, n_columns, self.size), np.nan)
        self._ptr = grown(self._ptr, (r, n_columns), 0, np.int64)

    def remember(self, slot: IntArray, col: IntArray, t: FloatArray, v: FloatArray) -> None:
        e = self.size
        starts, ends = group_starts(slot * self._ptr.shape[1] + col)
        n = ends - starts
        rank = rank_in_group(starts, ends, t.size)
        keep = rank >= np.repeat(n, n) - e
        s, c = slot[keep], col[keep]
        pos = (self._ptr[s, c] + rank[keep]) % e
        self._t[s, c, pos] = t[keep]
        self._v[s, c, pos] = v[keep]
        self._ptr[slot[starts], col[starts]] += n

    def window(self, slot: int, col: int) -> list[list[float]]:
        """``[[time, value], ...]`` of one series, oldest first."""
        order = np.argsort(self._t[slot, col])
        tt, vv = self._t[slot, col][order], self._v[slot, col][order]
        ok = np.isfinite(tt)
        return [[round(a, 3), b] for a, b in zip(tt[ok].tolist(), vv[ok].tolist(), strict=True)]
