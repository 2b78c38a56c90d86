"""The streaming detection engine: telemetry batches of the whole fleet in, anomaly events
out, vectorised over robots and signals (no I/O; :mod:`detection.service` does that).

=====================  =====================================================================
module                 one job
=====================  =====================================================================
``core``               :class:`DetectionEngine`: the decisions (learning stages, hysteresis,
                       one anomaly per robot + component + kind, alarms, stale data)
``events``             :class:`Batch` in; the event types out
``catalogue``          which signals are scored and how (columns)
``limits``             learnt limits as tables per robot slot; scoring a batch against them
``baseline``           one robot's baseline: vectorised learning, JSON state for the registry
``program``            program state and cycle phase of every point
``series``             per-series memory: flat-line clock, evidence ring buffers
``context``            vectorised "as of" look-ups and group helpers
``health``             health index and RUL of components with an open degradation anomaly
``rul_levels``         failure levels learnt from run-to-failure histories
``config``             the policy file's schema (pydantic, strict)
=====================  =====================================================================
"""

from detection.engine.config import EnginePolicy, load_engine_policy
from detection.engine.core import DetectionEngine
from detection.engine.events import (
    DETECTOR_NAME,
    AnomalyClosed,
    AnomalyOpened,
    BaselineLearned,
    Batch,
    EngineEvent,
    HealthUpdate,
)

__all__ = ["DetectionEngine", "Batch", "AnomalyOpened", "AnomalyClosed", "BaselineLearned",
           "HealthUpdate", "EngineEvent", "DETECTOR_NAME", "EnginePolicy", "load_engine_policy"]
