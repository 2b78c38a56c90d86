"""Health index and remaining useful life of components with an open degradation anomaly.

Once a component has an open anomaly of a degradation kind (``[rul] kinds`` of the engine
policy), the engine records a degradation indicator for it in each batch. For a kind with a
``[rul.failure.<kind>]`` entry the indicator is physical: the mean magnitude of the
component's signals of that quantity, over their learnt healthy baseline (``ratio``, 1 = as
new) or in the signal's unit (``absolute``), fitted with the kind's trend model (linear,
quadratic or exponential) and extrapolated to the kind's failure level; the band spans the
fit's residual bootstrap *and* the policy's range of failure levels
(:class:`~detection.rul.TrendRul`). Other kinds fall back to the largest score of the
component's signals (1 = at its limit) extrapolated to ``failure_score``. The health index
maps the indicator linearly from the healthy level to 0 at the failure level.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from detection.engine.config import RulConfig
from detection.errors import InvalidInputError
from detection.library.health import HealthIndex
from detection.library.rul import TrendRul

__all__ = ["HealthUpdate", "HealthTracker", "QuantityLevel"]


@dataclass(frozen=True, slots=True)
class QuantityLevel:
    """Mean magnitude of a component's signals of one quantity in one batch, and of their
    learnt healthy baseline over the same samples (same unit)."""

    value: float
    healthy: float

    @property
    def ratio(self) -> float:
        return self.value / self.healthy if self.healthy > 0 else float("nan")


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthUpdate:
    robot_id: int
    component: str
    kind: str
    at: float
    indicator: float
    health: float
    rul_s: float | None  # None: the indicator is not trending towards failure
    rul_low_s: float | None
    rul_high_s: float | None


@dataclass
class _Series:
    kind: str
    t: deque[float] = field(default_factory=deque)
    y: deque[float] = field(default_factory=deque)
    healthy: deque[float] = field(default_factory=deque)  # healthy level per point (or NaN)
    last_fit: float = float("-inf")


class HealthTracker:
    """Indicator series per (robot, component) and their periodic health / RUL estimates."""

    def __init__(self, cfg: RulConfig) -> None:
        self.cfg = cfg
        self._series: dict[tuple[int, str], _Series] = {}
        self._index = HealthIndex(failure_level=cfg.failure_score).fit([0.0])
        self._indices = {kind: HealthIndex(failure_level=f.level).fit([1.0])
                         for kind, f in cfg.failure.items() if f.scale == "ratio"}
        self.latest: dict[tuple[int, str], HealthUpdate] = {}

    def tracks(self, kind: str) -> bool:
        return kind in self.cfg.kinds

    def start(self, robot_id: int, component: str, kind: str) -> None:
        self._series.setdefault((robot_id, component), _Series(kind))

    def stop(self, robot_id: int, component: str, kind: str) -> None:
        s = self._series.get((robot_id, component))
        if s is not None and s.kind == kind:
            del self._series[(robot_id, component)]
            self.latest.pop((robot_id, component), None)

    def watched(self) -> list[tuple[int, str]]:
        return list(self._series)

    def add(self, robot_id: int, component: str, t: float, score: float,
            levels: Mapping[str, QuantityLevel] | None = None) -> None:
        """One batch: the component's largest score and its level per quantity."""
        s = self._series.get((robot_id, component))
        if s is None:
            return
        fail = self.cfg.failure.get(s.kind)
        indicator = score
        healthy = float("nan")
        if fail is not None:
            lv = (levels or {}).get(fail.quantity)
            if lv is None:
                return
            indicator = lv.ratio if fail.scale == "ratio" else lv.value
            healthy = lv.healthy
        if not np.isfinite(indicator):
            return
        s.t.append(t)
        s.y.append(indicator)
        s.healthy.append(healthy)
        while s.t and s.t[0] < t - self.cfg.window_s:
            s.t.popleft()
            s.y.popleft()
            s.healthy.popleft()

    def recent(self, robot_id: int, component: str, n: int = 10) -> tuple[str, float] | None:
        """Kind and median indicator of the last ``n`` batches of a watched component (what
        it read just before failing, when learning failure levels from run-to-failure
        histories)."""
        s = self._series.get((robot_id, component))
        if s is None or not s.y:
            return None
        return s.kind, float(np.median(list(s.y)[-n:]))

    def estimate(self, now: float) -> list[HealthUpdate]:
        out: list[HealthUpdate] = []
        cfg = self.cfg
        for (rid, comp), s in self._series.items():
            if len(s.t) < cfg.min_points or now - s.last_fit < cfg.every_s:
                continue
            s.last_fit = now
            t = np.fromiter(s.t, np.float64)
            y = np.fromiter(s.y, np.float64)
            fail = cfg.failure.get(s.kind)
            if fail is None:
                trend = TrendRul(failure_level=cfg.failure_score, n_bootstrap=cfg.n_bootstrap,
                                 confidence=cfg.confidence, random_state=0)
                index = self._index
            else:
                # The healthy level is the floor the wear grows from: 1 as a ratio, the
                # baseline's own magnitude in absolute units.
                floor = 1.0 if fail.scale == "ratio" else float(np.median(s.healthy))
                if not fail.low > floor:
                    continue  # already past the lowest failure level when healthy: no trend
                trend = TrendRul(failure_level=fail.level, model=fail.model, offset=floor,
                                 failure_range=(fail.low, fail.high),
                                 n_bootstrap=cfg.n_bootstrap, confidence=cfg.confidence,
                                 random_state=0)
                index = (self._indices[s.kind] if fail.scale == "ratio"
                         else HealthIndex(failure_level=fail.level).fit([floor]))
            try:
                est = trend.fit(t, y).predict()
            except InvalidInputError:
                continue
            level = float(np.median(y[-max(3, cfg.min_points // 2):]))

            def fin(v: float) -> float | None:
                return round(v, 1) if np.isfinite(v) else None

            upd = HealthUpdate(robot_id=rid, component=comp, kind=s.kind, at=now,
                               indicator=round(level, 3),
                               health=round(float(index.health([level])[0]), 3),
                               rul_s=fin(est.rul), rul_low_s=fin(est.low),
                               rul_high_s=fin(est.high))
            self.latest[(rid, comp)] = upd
            out.append(upd)
        return out
