"""The fleet's learnt limits as numpy tables indexed by robot slot, and the scoring of a
batch against them.

Each robot's :class:`~detection.engine.baseline.RobotBaseline` is installed into tables
``[robot, column]`` (level limits) and ``[robot, column, phase]`` (cycle limits), so one
batch of the whole fleet is scored with array look-ups instead of per-point Python.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detection.engine.baseline import RobotBaseline
from detection.engine.catalogue import Catalogue
from detection.engine.config import EnginePolicy

__all__ = ["LimitTables"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class LimitTables:
    """Learnt limits of every robot slot; owns the installed baselines.

    Parameters
    ----------
    policy : EnginePolicy
    catalogue : Catalogue
        The engine's catalogue (shared): a baseline's columns are placed by name.
    """

    def __init__(self, policy: EnginePolicy, catalogue: Catalogue) -> None:
        self.policy = policy
        self.catalogue = catalogue
        self.bases: dict[int, RobotBaseline] = {}  # by slot
        self.resize(0)

    def resize(self, n_slots: int) -> None:
        """Tables for ``n_slots`` robots and the catalogue's current columns; installed
        baselines are placed again (columns may have been added)."""
        r, c, p = max(n_slots, 1), len(self.catalogue), self.policy.cycle.n_phases
        self.level_median = np.full((r, c), np.nan)
        self.level_scale = np.full((r, c), np.nan)
        self.cycle_median = np.full((r, c, p), np.nan)
        self.cycle_low = np.full((r, c, p), np.nan)
        self.cycle_high = np.full((r, c, p), np.nan)
        self.level_to = np.full(r, np.inf)  # level points after this time are scored
        self.cycle_to = np.full(r, np.inf)
        for slot, base in self.bases.items():
            self.install(slot, base)

    def install(self, slot: int, base: RobotBaseline) -> None:
        p = self.policy.cycle.n_phases
        self.bases[slot] = base
        # The phase of a point is known to about one sample period, and a steep part of the
        # profile sits on a bin edge: each bin accepts what its neighbours accept.
        margin = self.policy.cycle.margin * base.cycle_scale
        lo, hi = base.cycle_low - margin, base.cycle_high + margin
        lo = np.fmin(np.fmin(np.roll(lo, 1, axis=1), lo), np.roll(lo, -1, axis=1))
        hi = np.fmax(np.fmax(np.roll(hi, 1, axis=1), hi), np.roll(hi, -1, axis=1))
        columns = self.catalogue.columns
        for j, name in enumerate(base.columns):
            if name in columns and base.n_phases == p:
                c = columns.index(name)
                self.level_median[slot, c] = base.level_median[j]
                self.level_scale[slot, c] = base.level_scale[j]
                ok = np.isfinite(base.cycle_median[j])
                self.cycle_median[slot, c] = base.cycle_median[j]
                self.cycle_low[slot, c] = np.where(ok, lo[j], np.nan)
                self.cycle_high[slot, c] = np.where(ok, hi[j], np.nan)
        self.level_to[slot] = base.trained_to
        self.cycle_to[slot] = base.trained_to if base.cycle_learnt else np.inf

    def forget(self, slot: int) -> None:
        self.bases.pop(slot, None)
        for a in (self.level_median, self.level_scale, self.cycle_median, self.cycle_low,
                  self.cycle_high):
            a[slot] = np.nan
        self.level_to[slot] = self.cycle_to[slot] = np.inf

    def level(self, slot: int, col: int) -> tuple[float, float]:
        """Learnt median and robust scale of one robot's level signal (NaN: none)."""
        return float(self.level_median[slot, col]), float(self.level_scale[slot, col])

    def score(self, slot: IntArray, col: IntArray, t: FloatArray, v: FloatArray,
              running: NDArray[np.bool_], phase: IntArray) -> tuple[FloatArray, FloatArray]:
        """Signed score of each point against its learnt limits (+1 / -1 at the upper /
        lower limit; NaN where none applies yet) and the healthy level it was scored
        against (the level median or the phase bin's median)."""
        signed = np.full(t.shape, np.nan)
        healthy = np.full(t.shape, np.nan)
        lvl = ~self.catalogue.is_cycle[col]
        li = lvl & running & (t > self.level_to[slot])
        at = (slot[li], col[li])
        signed[li] = (v[li] - self.level_median[at]) / (
            self.level_scale[at] * self.policy.limits.k)
        healthy[li] = self.level_median[at]
        ci = ~lvl & running & (phase >= 0) & (t > self.cycle_to[slot])
        idx = (slot[ci], col[ci], phase[ci])
        med, dv = self.cycle_median[idx], v[ci] - self.cycle_median[idx]
        signed[ci] = np.where(dv >= 0, dv / (self.cycle_high[idx] - med),
                              dv / (med - self.cycle_low[idx]))
        healthy[ci] = med
        return signed, healthy
