"""The signal catalogue as the engine sees it: which signals are scored (columns), how, and
which controller signals give the context.

Columns only grow (a signal registered later gets the next column), so learnt baselines,
which name their columns, stay valid when the catalogue changes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from detection.engine.config import EnginePolicy, component_of, quantity_of

__all__ = ["Catalogue", "COMPONENTS", "CONTEXT_SIGNALS"]

COMPONENTS = ("J1", "J2", "J3", "J4", "J5", "J6")
# Controller signals read as context, not scored (their names come from ``[context]``).
CONTEXT_SIGNALS = ("program_state", "cycle_count", "cycle_time", "payload", "alarm_code")


class Catalogue:
    """Signal id -> column, and per column how it is scored.

    Attributes
    ----------
    columns : list of str
        Names of the scored signals, in column order.
    col_of : ndarray of int
        Column of each signal id; -1 for signals that are not scored.
    context : dict of str to int
        Signal id of each controller context signal (-1 when the fleet has none).
    is_cycle, flat, high_only : ndarray of bool, per column
        Scored per phase of the program cycle; watched for a flat line; scored upwards only.
    static_high : ndarray of float, per column
        The robot model's upper limit (NaN: none).
    component : ndarray of int, per column
        Index into :data:`COMPONENTS` (-1: not a joint).
    """

    def __init__(self, policy: EnginePolicy) -> None:
        self.policy = policy
        self.columns: list[str] = []
        self.col_of = np.full(1, -1, np.int64)
        self.context: dict[str, int] = {}
        self.update({})

    def update(self, signal_names: Mapping[int, str]) -> None:
        """Adopt the catalogue ``signal id -> name``."""
        pol = self.policy
        watched = set(pol.limits.monitored) | set(pol.cycle.quantities)
        size = max([*signal_names, 0]) + 1
        col_of = np.full(size, -1, np.int64)
        for sid, name in sorted(signal_names.items()):
            if quantity_of(name) in watched:
                if name not in self.columns:
                    self.columns.append(name)
                col_of[sid] = self.columns.index(name)
        self.col_of = col_of
        by_name = {n: s for s, n in signal_names.items()}
        self.context = {key: by_name.get(getattr(pol.context, key), -1)
                        for key in CONTEXT_SIGNALS}
        names = self.columns
        self.is_cycle: NDArray[np.bool_] = np.array(
            [quantity_of(n) in pol.cycle.quantities for n in names], bool)
        self.static_high: NDArray[np.float64] = np.array(
            [pol.static_high.get(quantity_of(n), np.nan) for n in names])
        self.flat: NDArray[np.bool_] = np.array(
            [quantity_of(n) in pol.limits.flatline for n in names], bool)
        self.high_only: NDArray[np.bool_] = np.array(
            [quantity_of(n) in pol.limits.high_only for n in names], bool)
        self.component: NDArray[np.int64] = np.array(
            [COMPONENTS.index(component_of(n)) if component_of(n) in COMPONENTS else -1
             for n in names], np.int64)

    def __len__(self) -> int:
        return len(self.columns)

    def column_of(self, signal: NDArray[np.int64]) -> NDArray[np.int64]:
        """Column of each signal id (-1: not scored, or unknown)."""
        col = np.full(signal.shape, -1, np.int64)
        inside = signal < self.col_of.size
        col[inside] = self.col_of[signal[inside]]
        return col
