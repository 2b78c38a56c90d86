"""The detection process: read new telemetry, run the engine, write anomalies and baselines.

Database work runs in a worker thread with its own connection, so the event loop only
schedules. Robots are split across processes by ``robot_id % workers == worker``.

Model registry: every baseline the engine learns is stored as a new version in
``detector_models``; a restarted engine restores the newest one instead of relearning.
:func:`retrain_robot` (``robowatch detect retrain``) learns a new version from a stored
healthy period; running engines pick it up at their next catalogue refresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from detection.engine import (
    DETECTOR_NAME,
    AnomalyClosed,
    AnomalyOpened,
    BaselineLearned,
    Batch,
    DetectionEngine,
    EngineEvent,
    HealthUpdate,
)
from detection.engine_config import EnginePolicy
from detection.errors import DetectionError, StateError
from storage.anomalies import (
    NewAnomaly,
    close_anomaly,
    open_anomaly,
    open_anomaly_keys,
    update_open_anomaly_evidence,
)
from storage.detector_models import latest_models, latest_versions, save_model, training_points
from storage.fleet import robot_lines, signal_ids
from storage.telemetry import PointBatch, read_points

__all__ = ["DetectionService", "Shard", "SeriesClock", "fresh_batch", "run_detection",
           "retrain_robot"]

log = logging.getLogger(__name__)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class SeriesClock:
    """Newest sample time handed to the engine per series (``robot << 16 | signal``), as two
    sorted arrays: a poll re-reads a window that overlaps the previous ones, and each point
    must reach the engine exactly once and in order per series."""

    def __init__(self) -> None:
        self._keys = np.empty(0, np.int64)
        self._last = np.empty(0, np.float64)

    def __len__(self) -> int:
        return int(self._keys.size)

    @staticmethod
    def key(robot: np.ndarray, signal: np.ndarray) -> np.ndarray:
        return (robot.astype(np.int64) << 16) | signal.astype(np.int64)

    def fresh(self, key: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Mask of the points newer than their series' newest handed-over point."""
        if not self._keys.size:
            return np.ones(key.shape, bool)
        idx = np.searchsorted(self._keys, key)
        at = np.minimum(idx, self._keys.size - 1)
        known = self._keys[at] == key
        fresh: np.ndarray = ~known | (t > self._last[at])
        return fresh

    def advance(self, key: np.ndarray, t: np.ndarray) -> None:
        """Record the points just handed over (all of them fresh)."""
        if not key.size:
            return
        order = np.lexsort((t, key))
        k, tt = key[order], t[order]
        end = np.r_[k[1:] != k[:-1], True]  # the newest point of each series
        uk, ut = k[end], tt[end]
        idx = np.searchsorted(self._keys, uk)
        at = np.minimum(idx, max(self._keys.size - 1, 0))
        known = (self._keys[at] == uk) if self._keys.size else np.zeros(uk.shape, bool)
        self._last[at[known]] = np.maximum(self._last[at[known]], ut[known])
        self._keys = np.insert(self._keys, idx[~known], uk[~known])
        self._last = np.insert(self._last, idx[~known], ut[~known])


def fresh_batch(points: PointBatch, clock: SeriesClock) -> Batch:
    """The points of a read not handed to the engine before, sorted by time; ``clock`` is
    advanced past them."""
    key = SeriesClock.key(points.robot, points.signal)
    keep = clock.fresh(key, points.time)
    clock.advance(key[keep], points.time[keep])
    t = points.time[keep]
    order = np.argsort(t, kind="stable")
    return Batch(t[order], points.robot[keep][order], points.signal[keep][order],
                 points.value[keep][order])


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
        # Polls re-read an overlapping window so a point committed late is still scored;
        # the clock makes that exactly once.
        self._clock = SeriesClock()
        self._last_sweep = float("-inf")
        self.points_read = 0
        self.points_scored = 0
        self._known_robots: set[int] = set()
        self._known_signals: set[int] = set()
        self._versions: dict[int, int] = {}  # newest registry version in use per robot
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
        lines = {rid: line for rid, (_, line) in robot_lines(conn=conn).items()
                 if self._shard.owns(rid)}
        names = {sid: name for name, sid in signal_ids(conn=conn).items()}
        self._known_signals = set(names)
        self.engine = DetectionEngine(policy=self._policy, signal_names=names, robot_lines=lines)
        self._known_robots = set(lines)
        self._restore(conn, set(lines))
        for rid, component, kind in open_anomaly_keys(conn=conn):
            if rid in lines:
                self.engine.mark_open(rid, component, kind)
        # Start from now: history before this start is not re-scored after a restart.
        self._watermark = datetime.now(UTC) - timedelta(seconds=self._policy.engine.read_lag_s)
        log.info("detection: %d robots, %d stored baselines", len(lines),
                 sum(1 for r in lines if self.engine.has_baseline(r)))

    def _restore(self, conn: psycopg.Connection, robots: set[int]) -> None:
        assert self.engine is not None
        for rid, model in latest_models(conn=conn, detector=DETECTOR_NAME).items():
            if rid not in robots:
                continue
            self._versions[rid] = model.version
            try:
                self.engine.restore_baseline(rid, model.state)
                log.info("robot %s: baseline v%d restored", rid, model.version)
            except StateError as exc:  # a bad stored model means relearning, not a crash
                log.error("robot %s: stored baseline v%s unusable (%s); relearning", rid,
                          model.version, exc)

    def refresh_catalogue(self) -> None:
        """Pick up robots and signals registered since start, and retrained baselines."""
        assert self.engine is not None
        conn = self._connection()
        names = {sid: name for name, sid in signal_ids(conn=conn).items()}
        self._known_signals = set(names)
        self.engine.set_signals(names)
        for rid, (_, line) in robot_lines(conn=conn).items():
            if self._shard.owns(rid) and rid not in self._known_robots:
                self.engine.add_robot(rid, line)
                self._known_robots.add(rid)
        newer = {rid for rid, v in latest_versions(conn=conn, detector=DETECTOR_NAME).items()
                 if rid in self._known_robots and v > self._versions.get(rid, 0)}
        if newer:
            self._restore(conn, newer)

    def step(self) -> list[EngineEvent]:
        """Read telemetry up to now - read_lag, score what is new, persist the outcome.

        Each poll re-reads ``reread_s`` before the previous poll's end (points the collectors
        committed since), and every ``late_sweep_s`` the whole ``max_lateness_s`` window.
        """
        assert self.engine is not None and self._watermark is not None
        conn = self._connection()
        cfg = self._policy.engine
        until = datetime.now(UTC) - timedelta(seconds=cfg.read_lag_s)
        back = min(cfg.reread_s, cfg.max_lateness_s)
        if time.monotonic() - self._last_sweep >= cfg.late_sweep_s:
            back = cfg.max_lateness_s
            self._last_sweep = time.monotonic()
        points = read_points(conn=conn, after=self._watermark - timedelta(seconds=back),
                             until=until, worker=self._shard.worker, workers=self._shard.workers)
        batch = fresh_batch(points, self._clock)
        self.points_read += len(points)
        self.points_scored += len(batch)
        if len(batch) and (set(np.unique(batch.robot).tolist()) - self._known_robots
                           or set(np.unique(batch.signal).tolist()) - self._known_signals):
            # Collectors register robots and signals on first sight: pick them up now rather
            # than at the next periodic refresh, or the first minute of data goes unscored.
            self.refresh_catalogue()
        events = self.engine.process(batch, now=until.timestamp())
        self._persist(conn, events)
        self._watermark = until
        return events

    def _persist(self, conn: psycopg.Connection, events: list[EngineEvent]) -> None:
        for ev in events:
            try:
                with conn.transaction():
                    if isinstance(ev, AnomalyOpened):
                        evidence = dict(ev.evidence)
                        if ev.detected_at is not None:
                            evidence["detected_at"] = ev.detected_at
                        aid = open_anomaly(conn=conn, anomaly=NewAnomaly(
                            robot_id=ev.robot_id, component=ev.component, kind=ev.kind,
                            detector=ev.detector, impact=ev.impact, score=ev.score,
                            started_at=_utc(ev.started_at), signals=ev.signals,
                            evidence=evidence))
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
                        self._versions[ev.robot_id] = v
                        log.info("robot %s: baseline v%d stored", ev.robot_id, v)
                    elif isinstance(ev, HealthUpdate):
                        update_open_anomaly_evidence(
                            conn=conn, robot_id=ev.robot_id, component=ev.component,
                            kind=ev.kind, evidence={"health": {
                                "at": ev.at, "indicator": ev.indicator, "health": ev.health,
                                "rul_s": ev.rul_s, "rul_low_s": ev.rul_low_s,
                                "rul_high_s": ev.rul_high_s}})
            except psycopg.OperationalError:
                raise
            except psycopg.Error:
                # One event the database refuses (e.g. a robot deleted meanwhile) is logged
                # and skipped; it must not stop the detection of every other robot.
                log.exception("could not persist %s", ev)


def retrain_robot(*, conn: psycopg.Connection, policy: EnginePolicy, robot_id: int,
                  after: datetime, until: datetime) -> int:
    """Learn a new baseline version of one robot from its stored telemetry in
    ``(after, until]`` (a period the caller knows to be healthy); return the version.

    The period must cover the engine's learning time (``[cycle] baseline_s``); the robot's
    own data is replayed through a fresh engine, so the baseline is exactly what the
    streaming engine would have learnt from it.
    """
    names = {sid: name for name, sid in signal_ids(conn=conn).items()}
    lines = {rid: line for rid, (_, line) in robot_lines(conn=conn).items()}
    if robot_id not in lines:
        raise DetectionError(f"no robot with id {robot_id}")
    span = (until - after).total_seconds()
    engine = DetectionEngine(policy=policy, signal_names=names,
                             robot_lines={robot_id: lines[robot_id]})
    rows = training_points(conn=conn, robot_id=robot_id, after=after, until=until)
    if not rows:
        raise DetectionError(f"robot {robot_id}: no telemetry between {after} and {until}")
    t = np.array([r[0].timestamp() for r in rows])
    sid = np.array([r[1] for r in rows], np.int64)
    val = np.array([r[2] for r in rows], np.float64)
    learned: BaselineLearned | None = None
    step = policy.engine.poll_interval_s
    for lo in np.arange(t[0], t[-1] + step, step):
        m = (t >= lo) & (t < lo + step)
        batch = Batch(t[m], np.full(int(m.sum()), robot_id, np.int64), sid[m], val[m])
        for ev in engine.process(batch, now=float(lo + step)):
            if isinstance(ev, BaselineLearned):
                learned = ev
    base = engine.baseline_of(robot_id)
    if learned is None or base is None or not base.cycle_learnt:
        raise DetectionError(f"robot {robot_id}: {span:.0f} s of data did not complete a "
                             f"baseline (needs {policy.cycle.baseline_s:.0f} s of running program)")
    with conn.transaction():
        return save_model(conn=conn, robot_id=robot_id, detector=DETECTOR_NAME,
                          params=learned.params | {"retrained": True}, state=learned.state,
                          trained_from=_utc(learned.trained_from),
                          trained_to=_utc(learned.trained_to))


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
