"""Points gathered column by column (time, robot, signal, value, quality) before a COPY.

Appending to five lists is far cheaper per point than building a tuple per row, and the
lists become numpy arrays once per batch (``take``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from storage.telemetry import PointColumns

__all__ = ["PointBuffer"]


class PointBuffer:
    __slots__ = ("t", "r", "s", "v", "q")

    def __init__(self) -> None:
        self.t: list[int] = []
        self.r: list[int] = []
        self.s: list[int] = []
        self.v: list[float | None] = []
        self.q: list[int] = []

    def __len__(self) -> int:
        return len(self.t)

    def add(self, t: int, r: int, s: int, v: float | None, q: int) -> None:
        self.t.append(t)
        self.r.append(r)
        self.s.append(s)
        self.v.append(v)
        self.q.append(q)

    def extend(self, t: Sequence[int], r: Sequence[int], s: Sequence[int],
               v: Sequence[float | None], q: Sequence[int]) -> None:
        self.t.extend(t)
        self.r.extend(r)
        self.s.extend(s)
        self.v.extend(v)
        self.q.extend(q)

    def take(self, n: int) -> PointColumns:
        """The first ``n`` points as arrays (``None`` values become NaN; quality says NULL)."""
        return PointColumns(
            time_us=np.array(self.t[:n], dtype=np.int64),
            robot_id=np.array(self.r[:n], dtype=np.int32),
            signal_id=np.array(self.s[:n], dtype=np.int16),
            value=np.array(self.v[:n], dtype=np.float64),
            quality=np.array(self.q[:n], dtype=np.int16),
        )

    def drop(self, n: int) -> None:
        del self.t[:n], self.r[:n], self.s[:n], self.v[:n], self.q[:n]

    def swap(self) -> PointBuffer:
        """Hand over everything gathered so far as a new buffer; this one starts empty."""
        out = PointBuffer()
        out.t, out.r, out.s, out.v, out.q = self.t, self.r, self.s, self.v, self.q
        self.t, self.r, self.s, self.v, self.q = [], [], [], [], []
        return out
