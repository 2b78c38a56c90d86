"""What goes into the engine (:class:`Batch`) and what comes out (the events)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.engine.health import HealthUpdate

__all__ = ["AnomalyOpened", "AnomalyClosed", "BaselineLearned", "HealthUpdate", "EngineEvent",
           "Batch", "DETECTOR_NAME"]

# Name of the engine's baselines in the model registry and of its limit anomalies.
DETECTOR_NAME = "robot_baseline"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyOpened:
    robot_id: int
    component: str
    kind: str
    signals: tuple[str, ...]
    score: float
    impact: str
    started_at: float
    evidence: dict[str, Any]
    detected_at: float | None = None  # sample time of the point that opened it
    detector: str = DETECTOR_NAME


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyClosed:
    robot_id: int
    component: str
    kind: str
    ended_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineLearned:
    robot_id: int
    state: dict[str, Any]
    params: dict[str, Any]
    trained_from: float
    trained_to: float


EngineEvent = AnomalyOpened | AnomalyClosed | BaselineLearned | HealthUpdate


@dataclass(frozen=True, slots=True)
class Batch:
    """Columns of one read: time (Unix s), robot id, signal id, value; sorted by time."""

    time: NDArray[np.float64]
    robot: NDArray[np.int64]
    signal: NDArray[np.int64]
    value: NDArray[np.float64]

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[float, int, int, float]]) -> Batch:
        if not rows:
            e = np.empty(0)
            return cls(e, e.astype(np.int64), e.astype(np.int64), e)
        arr = np.asarray(rows, dtype=np.float64)
        return cls(arr[:, 0], arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64), arr[:, 3])

    def __len__(self) -> int:
        return int(self.time.size)
