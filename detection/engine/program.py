"""Where each robot is in its program: state, cycle starts and the phase of every point.

The controller's context signals arrive a few per tick, interleaved with the scored ones;
:class:`ProgramTracker` carries each robot's last value of them between batches and answers,
per point of a batch, the program state and the phase bin of the cycle at its time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.engine.config import ContextConfig
from detection.engine.context import asof, last_per_group

__all__ = ["ProgramTracker", "Rows", "NO_ROWS"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# (slot, time, value) of one context signal's samples in a batch
Rows = tuple[IntArray, FloatArray, FloatArray]
NO_ROWS: Rows = (np.empty(0, np.int64), np.empty(0), np.empty(0))

_CARRIED = ("program_state", "program_state_t", "state_cycles", "cycle_count",
            "cycle_count_t", "cycle_time", "boundary", "last_seen")


class ProgramTracker:
    """Context carried per robot slot between batches (NaN: never seen).

    Parameters
    ----------
    context : ContextConfig
    n_phases : int
        Bins of the program cycle.
    """

    def __init__(self, context: ContextConfig, n_phases: int) -> None:
        self.cx = context
        self.n_phases = n_phases
        self.carry: dict[str, FloatArray] = {}
        self.resize(1)

    def resize(self, n_slots: int) -> None:
        r = max(n_slots, 1)
        for key in _CARRIED:
            arr = np.full(r, np.nan)
            old = self.carry.get(key)
            if old is not None:
                n = min(r, old.size)
                arr[:n] = old[:n]
            self.carry[key] = arr

    @property
    def last_seen(self) -> FloatArray:
        """Time of each robot's newest point (any signal)."""
        return self.carry["last_seen"]

    def state_before(self) -> FloatArray:
        return self.carry["program_state"].copy()

    def _remember(self, key: str, rows: Rows) -> None:
        s, t, v = rows
        if t.size:
            carry = self.carry[key]
            lt, lv = last_per_group(s, t, v, carry.size)
            has = np.isfinite(lt)
            carry[has] = lv[has]

    def _asof(self, key: str, rows: Rows, slot: IntArray, t: FloatArray) -> FloatArray:
        out = asof(*rows, self.carry[key], slot, t)
        self._remember(key, rows)
        return out

    def cycles(self, cc: Rows | None, ps: Rows | None) -> Rows:
        """Cycle starts seen in this batch: (slot, time, NaN-or-time) per boundary.

        A cycle starts when ``program_state`` goes from waiting to moving; for a robot that
        never waits, when ``cycle_count`` takes a new value. The start is put midway between
        the two samples around the change. A halt ends the phase (NaN boundary): the motion
        clock stops, so the phase is unknown until the next cycle starts.
        """
        bs: list[int] = []
        bt: list[float] = []
        bv: list[float] = []
        cx = self.cx
        carry = self.carry

        def ordered(rows: Rows, key: str) -> tuple[Any, ...]:
            s, t, v = rows
            order = np.lexsort((t, s))
            s, t, v = s[order], t[order], v[order]
            first = np.concatenate(([True], s[1:] != s[:-1]))
            prev_v = np.concatenate(([np.nan], v[:-1]))
            prev_t = np.concatenate(([np.nan], t[:-1]))
            prev_v[first] = carry[key][s[first]]
            prev_t[first] = carry[f"{key}_t"][s[first]]
            lt, lv = last_per_group(s, t, v, carry[key].size)
            has = np.isfinite(lt)
            carry[key][has], carry[f"{key}_t"][has] = lv[has], lt[has]
            return s, t, v, prev_v, prev_t

        if ps is not None:
            s, t, v, prev_v, prev_t = ordered(ps, "program_state")
            running = np.isin(v, cx.running_states)
            halt = ~running & (np.isin(prev_v, cx.running_states) | np.isnan(prev_v))
            start = (prev_v == cx.cycle_start[0]) & (v == cx.cycle_start[1])
            carry["state_cycles"][s[start]] = 1.0
            for i in np.flatnonzero(halt | start):
                tb = float("nan") if halt[i] else 0.5 * (float(t[i]) + float(prev_t[i]))
                bs.append(int(s[i]))
                bt.append(float(t[i]))
                bv.append(tb)
        if cc is not None:
            s, t, v, prev_v, prev_t = ordered(cc, "cycle_count")
            new = (v != prev_v) & np.isfinite(prev_v) & (carry["state_cycles"][s] != 1.0)
            for i in np.flatnonzero(new):
                tb = 0.5 * (float(t[i]) + float(prev_t[i]))
                bs.append(int(s[i]))
                bt.append(float(t[i]))
                bv.append(tb)
        return (np.array(bs, np.int64), np.array(bt), np.array(bv))

    def running(self, states: Rows | None, before: FloatArray, slot: IntArray,
                t: FloatArray) -> NDArray[np.bool_]:
        """Whether each point's robot ran its program at that time (unknown counts as
        running: a robot without a program state is scored)."""
        state = asof(*(states or NO_ROWS), before, slot, t)
        out: NDArray[np.bool_] = np.isnan(state) | np.isin(state, self.cx.running_states)
        return out

    def phase(self, boundaries: Rows, cycle_time: Rows | None, slot: IntArray,
              t: FloatArray) -> IntArray:
        """Phase bin of each point in its program cycle; -1 where unknown."""
        tb = asof(*boundaries, self.carry["boundary"], slot, t)
        self._remember("boundary", boundaries)
        period = self._asof("cycle_time", cycle_time or NO_ROWS, slot, t)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = (t - tb) / period
        ok = np.isfinite(u) & (u >= 0) & (u < 1.05)
        p = self.n_phases
        out = np.full(t.shape, -1, np.int64)
        out[ok] = np.minimum((u[ok] * p).astype(np.int64), p - 1)
        return out
