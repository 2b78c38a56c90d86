"""The detection process: read new telemetry, run the engine, write anomalies and baselines.

Database work runs in a worker thread with its own connection, so the event loop only
schedules. Robots are split across processes by ``robot_id % workers == worker``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from detection.engine import (
    DETECTOR_NAME,
    AnomalyClosed,
    AnomalyOpened,
    Batch,
    BaselineLearned,
    DetectionEngine,
    EngineEvent,
)
from detection.engine_config import EnginePolicy
from storage.anomalies import NewAnomaly, close_anomaly, open_anomaly, open_anomaly_keys
from storage.detector_models import latest_models, save_model
from storage.fleet import robot_lines, signal_ids
from storage.telemetry import read_window

__all__ = ["DetectionService", "run_detection"]

log = logging.getLogger(__name__)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Shard:
    worker: int = 0
    workers: int = 1

    def owns(self, robot_id: int) -> bool:
        return robot_id % self.workers == self.worker


class DetectionService:
    """Synchronous core of the detection process (runs in a worker thread)."""

    def __init__(self, *, conninfo: str, policy: EnginePolicy, shard: Shard | None = None) -> None:
        self._conninfo = conninfo
        self._policy = policy
        self._shard = shard or Shard()
        self._conn: psycopg.Connection | None = None
        self.engine: DetectionEngine | None = None
        self._watermark: datetime | None = None
        # Newest sample time handed to the engine per (robot, signal): rows are re-read for
        # ``max_lateness_s`` so a point committed late is still scored, exactly once.
        self._last: dict[tuple[int, int], float] = {}
        self._known_robots: set[int] = set()
        self.opened = 0
        self.closed = 0

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def start(self) -> None:
        conn = self._connection()
        lines = {rid: line for rid, (_, line) in robot_lines(conn=conn).items() if self._shard.owns(rid)}
        names = {sid: name for name, sid in signal_ids(conn=conn).items()}
        self.engine = DetectionEngine(policy=self._policy, signal_names=names, robot_lines=lines)
        self._known_robots = set(lines)
        for rid, model in latest_models(conn=conn, detector=DETECTOR_NAME).items():
            if rid in lines:
                try:
                    self.engine.restore_baseline(rid, model.state)
                except Exception:  # noqa: BLE001 - a bad stored model means relearning, not a crash
                    log.exception("robot %s: stored baseline v%s unusable; relearning", rid, model.version)
        for rid, component, kind in open_anomaly_keys(conn=conn):
            if rid in lines:
                self.engine.mark_open(rid, component, kind)
        # Start from now: history before this start is not re-scored after a restart.
        self._watermark = datetime.now(UTC) - timedelta(seconds=self._policy.engine.read_lag_s)
        log.info("detection: %d robots, %d stored baselines", len(lines),
                 sum(1 for r in lines if self.engine.has_baseline(r)))

    def refresh_catalogue(self) -> None:
        """Pick up robots and signals registered since start."""
        assert self.engine is not None
        conn = self._connection()
        self.engine.set_signals({sid: name for name, sid in signal_ids(conn=conn).items()})
        for rid, (_, line) in robot_lines(conn=conn).items():
            if self._shard.owns(rid) and rid not in self._known_robots:
                self.engine.add_robot(rid, line)
                self._known_robots.add(rid)

    def step(self) -> list[EngineEvent]:
        """Read telemetry up to now - read_lag, score it, persist the outcome."""
        assert self.engine is not None and self._watermark is not None
        conn = self._connection()
        cfg = self._policy.engine
        until = datetime.now(UTC) - timedelta(seconds=cfg.read_lag_s)
        after = self._watermark - timedelta(seconds=cfg.max_lateness_s)
        rows = read_window(conn=conn, after=after, until=until)
        owned = []
        last = self._last
        for tm, rid, sid, val in rows:
            if not self._shard.owns(rid):
                continue
            ts = tm.timestamp()
            if ts <= last.get((rid, sid), float("-inf")):
                continue
            last[(rid, sid)] = ts
            owned.append((ts, rid, sid, val))
        owned.sort()
        events = self.engine.process(Batch.from_rows(owned), now=until.timestamp())
        self._persist(conn, events)
        self._watermark = until
        return events

    def _persist(self, conn: psycopg.Connection, events: list[EngineEvent]) -> None:
        for ev in events:
            try:
                with conn.transaction():
                    if isinstance(ev, AnomalyOpened):
                        aid = open_anomaly(conn=conn, anomaly=NewAnomaly(
                            robot_id=ev.robot_id, component=ev.component, kind=ev.kind,
                            detector=DETECTOR_NAME, impact=ev.impact, score=ev.score,
                            started_at=_utc(ev.started_at), signals=ev.signals,
                            evidence=ev.evidence))
                        if aid is not None:
                            self.opened += 1
                            log.info("anomaly %s opened: robot %s %s %s (%s)", aid, ev.robot_id,
                                     ev.component, ev.kind, ev.impact)
                    elif isinstance(ev, AnomalyClosed):
                        if close_anomaly(conn=conn, robot_id=ev.robot_id, component=ev.component,
                                         kind=ev.kind, ended_at=_utc(ev.ended_at)) is not None:
                            self.closed += 1
                    elif isinstance(ev, BaselineLearned):
                        v = save_model(conn=conn, robot_id=ev.robot_id, detector=DETECTOR_NAME,
                                       params=ev.params, state=ev.state,
                                       trained_from=_utc(ev.trained_from),
                                       trained_to=_utc(ev.trained_to))
                        log.info("robot %s: baseline v%d stored", ev.robot_id, v)
            except psycopg.OperationalError:
                raise
            except psycopg.Error:
                # One event the database refuses (e.g. a robot deleted meanwhile) is logged
                # and skipped; it must not stop the detection of every other robot.
                log.exception("could not persist %s", ev)


async def run_detection(*, conninfo: str, policy: EnginePolicy, stop: asyncio.Event,
                        shard: Shard | None = None, refresh_every_s: float = 30.0) -> None:
    service = DetectionService(conninfo=conninfo, policy=policy, shard=shard)
    await asyncio.to_thread(service.start)
    last_refresh = time.monotonic()
    interval = policy.engine.poll_interval_s
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                if t0 - last_refresh >= refresh_every_s:
                    await asyncio.to_thread(service.refresh_catalogue)
                    last_refresh = t0
                await asyncio.to_thread(service.step)
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying", str(exc).strip().splitlines()[0])
                service.close()
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, interval - (time.monotonic() - t0)))
            except TimeoutError:
                pass
    finally:
        await asyncio.to_thread(service.close)
