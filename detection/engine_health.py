"""Health index and remaining useful life of components with an open degradation anomaly.

Once a component has an open anomaly of a degradation kind (``[rul] kinds`` of the engine
policy), the engine records a degradation indicator for it in each batch. For a kind with a
``[rul.failure.<kind>]`` entry the indicator is physical: the mean magnitude of the
component's signals of that quantity over their learnt healthy baseline (1 = as new), fitted
with the kind's trend model (linear, quadratic or exponential) and extrapolated to the
kind's failure level; the band spans the fit's residual bootstrap *and* the policy's range
of failure levels (:class:`~detection.rul.TrendRul`). Other kinds fall back to the largest
score of the component's signals (1 = at its limit) extrapolated to ``failure_score``. The
health index maps the indicator linearly from 1 (healthy level) to 0 (failure level).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from detection.engine_config import RulConfig
from detection.errors import InvalidInputError
from detection.health import HealthIndex
from detection.rul import TrendRul

__all__ = ["HealthUpdate", "HealthTracker"]


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
    last_fit: float = float("-inf")


class HealthTracker:
    """Indicator series per (robot, component) and their periodic health / RUL estimates."""

    def __init__(self, cfg: RulConfig) -> None:
        self.cfg = cfg
        self._series: dict[tuple[int, str], _Series] = {}
        self._index = HealthIndex(failure_level=cfg.failure_score).fit([0.0])
        self._indices = {kind: HealthIndex(failure_level=f.level).fit([1.0])
                         for kind, f in cfg.failure.items()}
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

    def add(self, robot_id: int, component: str, t: float, indicator: float,
            ratios: Mapping[str, float] | None = None) -> None:
        """One batch: the largest score and, by quantity, the ratio to the healthy baseline."""
        s = self._series.get((robot_id, component))
        if s is None:
            return
        fail = self.cfg.failure.get(s.kind)
        if fail is not None:
            indicator = (ratios or {}).get(fail.quantity, float("nan"))
        if not np.isfinite(indicator):
            return
        s.t.append(t)
        s.y.append(indicator)
        while s.t and s.t[0] < t - self.cfg.window_s:
            s.t.popleft()
            s.y.popleft()

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
            else:
                # The healthy baseline (ratio 1) is the floor the wear grows from.
                trend = TrendRul(failure_level=fail.level, model=fail.model, offset=1.0,
                                 failure_range=(fail.low, fail.high),
                                 n_bootstrap=cfg.n_bootstrap, confidence=cfg.confidence,
                                 random_state=0)
            try:
                est = trend.fit(t, y).predict()
            except InvalidInputError:
                continue
            index = self._index if fail is None else self._indices[s.kind]
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
