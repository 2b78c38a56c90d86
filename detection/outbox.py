"""Engine events waiting to be stored, stored in order and exactly once.

The engine's state moves on as soon as it has scored a batch: an anomaly it reports open is
open for the engine from then on, and it will not report it again. So its events are kept
here until the database has them; when the connection drops, they wait for the next one.

Exactly once, even when a commit's outcome is lost with the connection (the retry cannot
know whether the first attempt was stored):

* an opened anomaly is keyed by robot + component + kind while it is open (the unique index
  of ``anomalies``); only the engine closes anomalies, and its close waits behind the open in
  this queue, so a retried open finds its own row and stores nothing;
* a close or a health update changes the open row only: done twice, it is done once;
* a learnt baseline is keyed by its training period (``save_model_once``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from detection.engine import (
    DETECTOR_NAME,
    AnomalyClosed,
    AnomalyOpened,
    BaselineLearned,
    EngineEvent,
    HealthUpdate,
)
from storage.anomalies import (
    NewAnomaly,
    close_anomaly,
    open_anomaly,
    update_open_anomaly_evidence,
)
from storage.connect import Conn, DatabaseError, DatabaseUnavailable, usable
from storage.detector_models import save_model_once
from storage.maintenance import record_health

__all__ = ["Outbox"]

log = logging.getLogger(__name__)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Outbox:
    """Ordered queue of engine events not yet stored.

    Parameters
    ----------
    name_of : callable
        Robot id -> how the logs name it (its code).
    on_model : callable
        Called with (robot id, version) for every baseline version stored or found stored.
    """

    def __init__(self, *, name_of: Callable[[int], str],
                 on_model: Callable[[int, int], None]) -> None:
        self._pending: deque[EngineEvent] = deque()
        self._name_of = name_of
        self._on_model = on_model
        self.opened = 0
        self.closed = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, events: Iterable[EngineEvent]) -> None:
        self._pending.extend(events)

    def flush(self, conn: Conn) -> None:
        """Store the waiting events, oldest first, one transaction each.

        Raises :data:`~storage.connect.DatabaseUnavailable` when the connection is lost; the
        event being stored and all after it stay queued. An event the database refuses
        while the connection is fine (e.g. its robot was deleted) is logged and dropped: it
        must not hold back every other robot's events.
        """
        while self._pending:
            event = self._pending[0]
            try:
                with conn.transaction():
                    self._store(conn, event)
            except DatabaseUnavailable:
                raise
            except DatabaseError:
                if not usable(conn):
                    raise
                log.exception("could not store %s; dropped", event)
            self._pending.popleft()

    def _store(self, conn: Conn, ev: EngineEvent) -> None:
        name = self._name_of(ev.robot_id)
        if isinstance(ev, AnomalyOpened):
            evidence = dict(ev.evidence)
            if ev.detected_at is not None:
                evidence["detected_at"] = ev.detected_at
            aid = open_anomaly(conn=conn, anomaly=NewAnomaly(
                robot_id=ev.robot_id, component=ev.component, kind=ev.kind,
                detector=ev.detector, impact=ev.impact, score=ev.score,
                started_at=_utc(ev.started_at), signals=ev.signals, evidence=evidence))
            if aid is None:
                log.info("robot %s %s %s: already stored open", name, ev.component, ev.kind)
                return
            self.opened += 1
            log.info("anomaly %s opened: robot %s %s %s (%s)", aid, name, ev.component,
                     ev.kind, ev.impact)
        elif isinstance(ev, AnomalyClosed):
            aid = close_anomaly(conn=conn, robot_id=ev.robot_id, component=ev.component,
                                kind=ev.kind, ended_at=_utc(ev.ended_at))
            if aid is not None:
                self.closed += 1
                log.info("anomaly %s closed: robot %s %s %s", aid, name, ev.component, ev.kind)
        elif isinstance(ev, BaselineLearned):
            version, stored = save_model_once(
                conn=conn, robot_id=ev.robot_id, detector=DETECTOR_NAME, params=ev.params,
                state=ev.state, trained_from=_utc(ev.trained_from),
                trained_to=_utc(ev.trained_to))
            self._on_model(ev.robot_id, version)
            log.info("robot %s: baseline v%d %s", name, version,
                     "stored" if stored else "already stored")
        elif isinstance(ev, HealthUpdate):
            # The trend the maintenance planner reads (docs/maintenance.md), besides the latest
            # estimate kept in the open anomaly's evidence.
            record_health(conn=conn, robot_id=ev.robot_id, component=ev.component, kind=ev.kind,
                          at=datetime.fromtimestamp(ev.at, UTC), indicator=ev.indicator,
                          health=ev.health, rul_s=ev.rul_s, rul_low_s=ev.rul_low_s,
                          rul_high_s=ev.rul_high_s)
            update_open_anomaly_evidence(
                conn=conn, robot_id=ev.robot_id, component=ev.component, kind=ev.kind,
                evidence={"health": {
                    "at": ev.at, "indicator": ev.indicator, "health": ev.health,
                    "rul_s": ev.rul_s, "rul_low_s": ev.rul_low_s, "rul_high_s": ev.rul_high_s}})
