"""Fleet-wide state of the streaming engine, kept as numpy tables indexed by robot slot.

:class:`FleetTables` holds what every point of a batch is scored against, so one batch is
scored with array lookups instead of per-point Python: the signal catalogue mapped to
columns, each robot's learnt limits (level ``[robot, column]`` and per cycle phase
``[robot, column, phase]``), the controller context carried between batches (program state,
cycle starts), the flat-line bookkeeping and ring buffers of recent values for evidence.
The decisions (hysteresis, anomalies, learning) are in :mod:`detection.engine`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.engine_baseline import RobotBaseline
from detection.engine_config import EnginePolicy, component_of, quantity_of
from detection.engine_context import asof, group_starts, last_per_group, rank_in_group

__all__ = ["FleetTables", "COMPONENTS"]

COMPONENTS = ("J1", "J2", "J3", "J4", "J5", "J6")
_COMPONENTS = COMPONENTS


class FleetTables:
    """Column catalogue, learnt-limit tables and carried context of a fleet (a base class:
    :class:`~detection.engine.DetectionEngine` adds the decisions)."""

    def __init__(self, policy: EnginePolicy) -> None:
        self.policy = policy
        self._by_slot: list[Any] = []
        self._columns: list[str] = []
        self._col_of = np.full(1, -1, np.int64)
        self._ctx: dict[str, int] = {}

    def set_signals(self, signal_names: Mapping[int, str]) -> None:
        """Adopt the signal catalogue; columns only grow, so learnt baselines stay valid."""
        pol = self.policy
        watched = set(pol.limits.monitored) | set(pol.cycle.quantities)
        size = max([*signal_names, 0]) + 1
        col_of = np.full(size, -1, np.int64)
        for sid, name in sorted(signal_names.items()):
            if quantity_of(name) in watched:
                if name not in self._columns:
                    self._columns.append(name)
                col_of[sid] = self._columns.index(name)
        self._col_of = col_of
        cx = pol.context
        by_name = {n: s for s, n in signal_names.items()}
        self._ctx = {key: by_name.get(getattr(cx, key), -1) for key in
                     ("program_state", "cycle_count", "cycle_time", "payload", "alarm_code")}
        names = self._columns
        self._is_cycle = np.array([quantity_of(n) in pol.cycle.quantities for n in names], bool)
        self._static_high = np.array([pol.static_high.get(quantity_of(n), np.nan) for n in names])
        self._flat = np.array([quantity_of(n) in pol.limits.flatline for n in names], bool)
        self._high_only = np.array([quantity_of(n) in pol.limits.high_only for n in names], bool)
        self._comp = np.array([_COMPONENTS.index(component_of(n))
                               if component_of(n) in _COMPONENTS else -1 for n in names], np.int64)
        self._alloc(len(self._by_slot))

    def _alloc(self, n_robots: int) -> None:
        """(Re)build the fleet tables for ``n_robots`` slots and the current columns,
        keeping what earlier tables held."""
        c, p, e = len(self._columns), self.policy.cycle.n_phases, self.policy.engine.evidence_points
        r = max(n_robots, 1)

        def grown(name: str, shape: tuple[int, ...], fill: float, dtype: Any = np.float64) -> Any:
            new = np.full(shape, fill, dtype)
            old = getattr(self, name, None)
            if old is not None:
                new[tuple(slice(0, min(a, b)) for a, b in zip(old.shape, shape, strict=True))] = \
                    old[tuple(slice(0, min(a, b)) for a, b in zip(old.shape, shape, strict=True))]
            return new

        self._lvl_med = np.full((r, c), np.nan)
        self._lvl_scale = np.full((r, c), np.nan)
        self._cyc_med = np.full((r, c, p), np.nan)
        self._cyc_lo = np.full((r, c, p), np.nan)
        self._cyc_hi = np.full((r, c, p), np.nan)
        self._lvl_to = np.full(r, np.inf)   # level points after this time are scored
        self._cyc_to = np.full(r, np.inf)
        old_carry = getattr(self, "_carry", {})
        self._carry = {}
        for key in ("program_state", "program_state_t", "state_cycles", "cycle_count",
                    "cycle_count_t", "cycle_time", "boundary", "payload", "last_seen"):
            arr = np.full(r, np.nan)
            if key in old_carry:
                n = min(r, old_carry[key].size)
                arr[:n] = old_carry[key][:n]
            self._carry[key] = arr
        self._flat_val = grown("_flat_val", (r, c), np.nan)
        self._flat_since = grown("_flat_since", (r, c), np.nan)
        self._ev_t = grown("_ev_t", (r, c, e), np.nan)
        self._ev_v = grown("_ev_v", (r, c, e), np.nan)
        self._ev_ptr = grown("_ev_ptr", (r, c), 0, np.int64)
        for robot in self._by_slot:
            if robot.baseline is not None:
                self._install(robot, robot.baseline)

    def _install(self, robot: Any, base: RobotBaseline) -> None:
        s, p = robot.slot, self.policy.cycle.n_phases
        robot.baseline = base
        # The phase of a point is known to about one sample period, and a steep part of the
        # profile sits on a bin edge: each bin accepts what its neighbours accept.
        margin = self.policy.cycle.margin * base.cycle_scale
        lo, hi = base.cycle_low - margin, base.cycle_high + margin
        lo = np.fmin(np.fmin(np.roll(lo, 1, axis=1), lo), np.roll(lo, -1, axis=1))
        hi = np.fmax(np.fmax(np.roll(hi, 1, axis=1), hi), np.roll(hi, -1, axis=1))
        for j, name in enumerate(base.columns):
            if name in self._columns and base.n_phases == p:
                c = self._columns.index(name)
                self._lvl_med[s, c] = base.level_median[j]
                self._lvl_scale[s, c] = base.level_scale[j]
                ok = np.isfinite(base.cycle_median[j])
                self._cyc_med[s, c] = base.cycle_median[j]
                self._cyc_lo[s, c] = np.where(ok, lo[j], np.nan)
                self._cyc_hi[s, c] = np.where(ok, hi[j], np.nan)
        self._lvl_to[s] = base.trained_to
        self._cyc_to[s] = base.trained_to if base.cycle_learnt else np.inf
        self._carry["payload"][s] = np.nan if base.payload is None else base.payload

    def _forget(self, robot: Any) -> None:
        s = robot.slot
        robot.baseline = None
        for a in (self._lvl_med, self._lvl_scale, self._cyc_med, self._cyc_lo, self._cyc_hi):
            a[s] = np.nan
        self._lvl_to[s] = self._cyc_to[s] = np.inf

    def _asof_ctx(self, ctx: dict[str, tuple[Any, Any, Any]], key: str,
                  slot: NDArray[np.int64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        carry = self._carry[key]
        cs, ct, cv = ctx.get(key, (np.empty(0, np.int64), np.empty(0), np.empty(0)))
        out = asof(cs, ct, cv, carry, slot, t)
        if ct.size:
            lt, lv = last_per_group(cs, ct, cv, carry.size)
            has = np.isfinite(lt)
            carry[has] = lv[has]
        return out

    def _cycles(self, cc: tuple[Any, Any, Any] | None,
                ps: tuple[Any, Any, Any] | None) -> tuple[Any, Any, Any]:
        """Cycle starts seen in this batch: (slot, time, NaN-or-time) per boundary.

        A cycle starts when ``program_state`` goes from waiting to moving; for a robot that
        never waits, when ``cycle_count`` takes a new value. The start is put midway between
        the two samples around the change. A halt ends the phase (NaN boundary): the motion
        clock stops, so the phase is unknown until the next cycle starts.
        """
        bs: list[int] = []
        bt: list[float] = []
        bv: list[float] = []
        cx = self.policy.context
        carry = self._carry

        def ordered(rows: tuple[Any, Any, Any], key: str) -> tuple[Any, ...]:
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

    def _phase(self, boundaries: tuple[Any, Any, Any], ctx: dict[str, tuple[Any, Any, Any]],
               slot: NDArray[np.int64], t: NDArray[np.float64]) -> NDArray[np.int64]:
        """Phase bin of each point in its program cycle; -1 where unknown."""
        bs, bt, bv = boundaries
        carry = self._carry["boundary"]
        tb = asof(bs, bt, bv, carry, slot, t)
        if bt.size:
            lt, lv = last_per_group(bs, bt, bv, carry.size)
            has = np.isfinite(lt)
            carry[has] = lv[has]
        period = self._asof_ctx(ctx, "cycle_time", slot, t)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = (t - tb) / period
        ok = np.isfinite(u) & (u >= 0) & (u < 1.05)
        p = self.policy.cycle.n_phases
        out = np.full(t.shape, -1, np.int64)
        out[ok] = np.minimum((u[ok] * p).astype(np.int64), p - 1)
        return out

    def _flatline(self, slot: NDArray[np.int64], col: NDArray[np.int64], t: NDArray[np.float64],
                  v: NDArray[np.float64], running: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Seconds since each point's signal last changed, in units of ``flat_s``."""
        out = np.full(t.shape, np.nan)
        flat_s = self.policy.engine.flat_s
        m = self._flat[col]
        if flat_s <= 0 or not m.any():
            return out
        idx = np.flatnonzero(m)
        s, c, tt, vv = slot[idx], col[idx], t[idx], v[idx]
        starts, ends = group_starts(s * len(self._columns) + c)
        prev = np.concatenate(([np.nan], vv[:-1]))
        prev[starts] = self._flat_val[s[starts], c[starts]]
        changed = vv != prev
        since = np.where(changed, tt, np.nan)
        first = starts[~changed[starts]]
        since[first] = self._flat_since[s[first], c[first]]
        since[starts[np.isnan(since[starts])]] = tt[starts[np.isnan(since[starts])]]
        pos = np.where(np.isfinite(since), np.arange(since.size), 0)
        since = since[np.maximum.accumulate(pos)]
        last = ends - 1
        self._flat_val[s[last], c[last]] = vv[last]
        self._flat_since[s[last], c[last]] = since[last]
        out[idx] = np.where(running[idx], (tt - since) / flat_s, np.nan)
        return out

    def _remember(self, slot: NDArray[np.int64], col: NDArray[np.int64], t: NDArray[np.float64],
                  v: NDArray[np.float64]) -> None:
        """Keep the last ``evidence_points`` values of every scored signal (ring buffers)."""
        e = self._ev_t.shape[2]
        starts, ends = group_starts(slot * len(self._columns) + col)
        n = ends - starts
        rank = rank_in_group(starts, ends, t.size)
        keep = rank >= np.repeat(n, n) - e
        s, c = slot[keep], col[keep]
        pos = (self._ev_ptr[s, c] + rank[keep]) % e
        self._ev_t[s, c, pos] = t[keep]
        self._ev_v[s, c, pos] = v[keep]
        self._ev_ptr[slot[starts], col[starts]] += n

    def _evidence_window(self, s: int, c: int) -> list[list[float]]:
        order = np.argsort(self._ev_t[s, c])
        tt, vv = self._ev_t[s, c][order], self._ev_v[s, c][order]
        ok = np.isfinite(tt)
        return [[round(a, 3), b] for a, b in zip(tt[ok].tolist(), vv[ok].tolist(), strict=True)]
