"""Per-robot baselines of the streaming engine: learning, scoring tables, stored state.

A robot's baseline has two parts, learnt from its own healthy data:

* *level* limits (median +/- k robust standard deviations) for signals that do not follow
  the motion of the program (winding and cabinet temperature, gearbox vibration);
* *cycle* limits, one per phase bin of the program cycle, for signals that do (current,
  torque, following error): 8 A while accelerating and 0.6 A while waiting are both normal,
  but 3 A while waiting is not.

It also remembers the program it was learnt on (cycle time and payload), so that a changed
program is recognised and relearnt instead of being reported as a fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.errors import StateError
from detection.robust import MAD_TO_SIGMA, floored_scale, group_median_mad, group_quantiles

__all__ = ["RobotBaseline", "Training", "STATE_FORMAT", "BASELINE_DETECTOR"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

BASELINE_DETECTOR = "RobotBaseline"
STATE_FORMAT = 2


@dataclass
class RobotBaseline:
    """Learnt limits of one robot. ``level_*`` are ``[C]``, ``cycle_*`` are ``[C, P]``;
    NaN where a signal (or phase bin) had too little healthy data to be scored."""

    columns: tuple[str, ...]
    k: float
    n_phases: int
    level_median: FloatArray
    level_scale: FloatArray
    cycle_median: FloatArray
    cycle_scale: FloatArray
    cycle_low: FloatArray  # healthy range of each bin (trimmed quantiles): a bin of a
    cycle_high: FloatArray  # cycle holds a steep profile, not just noise around a level
    cycle_time: float | None = None
    payload: float | None = None
    trained_from: float = 0.0
    trained_to: float = 0.0
    cycle_learnt: bool = False

    def to_state(self) -> dict[str, Any]:
        def clean(a: FloatArray) -> Any:
            out = a.astype(object)
            out[~np.isfinite(a)] = None  # JSON has no NaN
            return out.tolist()

        return {
            "detector": BASELINE_DETECTOR, "format": STATE_FORMAT, "columns": list(self.columns),
            "k": self.k, "n_phases": self.n_phases,
            "level": {"median": clean(self.level_median), "scale": clean(self.level_scale)},
            "cycle": {"median": clean(self.cycle_median), "scale": clean(self.cycle_scale),
                      "low": clean(self.cycle_low), "high": clean(self.cycle_high),
                      "learnt": self.cycle_learnt},
            "program": {"cycle_time": self.cycle_time, "payload": self.payload},
            "trained": [self.trained_from, self.trained_to],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RobotBaseline:
        if state.get("detector") != BASELINE_DETECTOR or state.get("format") != STATE_FORMAT:
            raise StateError(f"not a {BASELINE_DETECTOR} state of format {STATE_FORMAT}: "
                             f"detector={state.get('detector')!r} format={state.get('format')!r}")
        try:
            def arr(v: Any) -> FloatArray:
                return np.array(v, dtype=np.float64)  # None -> nan

            cols = tuple(str(c) for c in state["columns"])
            base = cls(columns=cols, k=float(state["k"]), n_phases=int(state["n_phases"]),
                       level_median=arr(state["level"]["median"]),
                       level_scale=arr(state["level"]["scale"]),
                       cycle_median=arr(state["cycle"]["median"]),
                       cycle_scale=arr(state["cycle"]["scale"]),
                       cycle_low=arr(state["cycle"]["low"]),
                       cycle_high=arr(state["cycle"]["high"]),
                       cycle_time=state["program"].get("cycle_time"),
                       payload=state["program"].get("payload"),
                       trained_from=float(state["trained"][0]),
                       trained_to=float(state["trained"][1]),
                       cycle_learnt=bool(state["cycle"].get("learnt", False)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StateError(f"malformed {BASELINE_DETECTOR} state: {exc}") from exc
        c, p = len(cols), base.n_phases
        if (base.level_median.shape != (c,) or base.level_scale.shape != (c,)
                or any(a.shape != (c, p) for a in (base.cycle_median, base.cycle_scale,
                                                   base.cycle_low, base.cycle_high))):
            raise StateError("baseline arrays do not match its columns and phases")
        if (base.level_scale[np.isfinite(base.level_scale)] <= 0).any() or (
                base.cycle_scale[np.isfinite(base.cycle_scale)] <= 0).any():
            raise StateError("baseline scales must be > 0")
        return base


@dataclass
class Training:
    """Healthy points of one robot collected since ``started``: column, phase bin, value."""

    started: float
    col: list[IntArray] = field(default_factory=list)
    phase: list[IntArray] = field(default_factory=list)
    value: list[FloatArray] = field(default_factory=list)
    cycle_time: list[float] = field(default_factory=list)
    payload: float | None = None

    def add(self, col: IntArray, phase: IntArray, value: FloatArray) -> None:
        if col.size:
            # Compact types: a fleet trains all at once, and 2 minutes of 31 signals at
            # 10 Hz is 37k points per robot.
            self.col.append(col.astype(np.int16))
            self.phase.append(phase.astype(np.int16))
            self.value.append(value.astype(np.float32))

    def arrays(self) -> tuple[IntArray, IntArray, FloatArray]:
        if not self.col:
            e = np.empty(0, np.int64)
            return e, e, np.empty(0)
        return (np.concatenate(self.col).astype(np.int64),
                np.concatenate(self.phase).astype(np.int64),
                np.concatenate(self.value).astype(np.float64))

    def learn(self, *, columns: Sequence[str], is_cycle: NDArray[np.bool_], k: float,
              n_phases: int, min_points: int, min_cycle_points: int, min_scale: float,
              rel_min_scale: float, until: float, with_cycle: bool,
              quantile: float = 0.01) -> RobotBaseline:
        """Limits from the collected points; cycle limits only when ``with_cycle``."""
        c = len(columns)
        col, ph, val = self.arrays()
        lvl = ~is_cycle[col]
        med, mad, n = group_median_mad(col[lvl], val[lvl], c)
        level_median = np.where(n >= min_points, med, np.nan)
        level_scale = floored_scale(MAD_TO_SIGMA * mad, level_median, min_scale=min_scale,
                                    rel_min_scale=rel_min_scale)
        cyc_med = np.full((c, n_phases), np.nan)
        cyc_scale = np.full((c, n_phases), np.nan)
        cyc_low = np.full((c, n_phases), np.nan)
        cyc_high = np.full((c, n_phases), np.nan)
        if with_cycle:
            sel = is_cycle[col] & (ph >= 0)
            g = col[sel] * n_phases + ph[sel]
            m, d, cnt = group_median_mad(g, val[sel], c * n_phases)
            m = np.where(cnt >= min_cycle_points, m, np.nan)
            cyc_med = m.reshape(c, n_phases)
            cyc_scale = floored_scale(MAD_TO_SIGMA * d, m, min_scale=min_scale,
                                      rel_min_scale=rel_min_scale).reshape(c, n_phases)
            lo, hi = group_quantiles(g, val[sel], c * n_phases, quantile)
            cyc_low = np.where(np.isfinite(m), lo, np.nan).reshape(c, n_phases)
            cyc_high = np.where(np.isfinite(m), hi, np.nan).reshape(c, n_phases)
        ct = float(np.median(self.cycle_time)) if self.cycle_time else None
        return RobotBaseline(columns=tuple(columns), k=k, n_phases=n_phases,
                             level_median=level_median, level_scale=level_scale,
                             cycle_median=cyc_med, cycle_scale=cyc_scale, cycle_low=cyc_low,
                             cycle_high=cyc_high, cycle_time=ct,
                             payload=self.payload, trained_from=self.started, trained_to=until,
                             cycle_learnt=with_cycle)
