"""The detection process: read new telemetry, run the engine, store anomalies and baselines.

Database work runs in a worker thread with its own connection, so the event loop only
schedules. Robots are split across processes by ``robot_id % workers == worker``.

Nothing the engine reports is lost to a dropped connection: its events wait in an
:class:`~detection.outbox.Outbox` until they are stored, exactly once. While the database is
down the service reconnects with capped exponential backoff and jitter (tenacity), then
stores what waited before it reads on.

Model registry: every baseline the engine learns is stored as a new version in
``detector_models``; a restarted engine restores the newest one instead of relearning.
:func:`retrain_robot` (``robowatch detect retrain``) learns a new version from a stored
healthy period; running engines pick it up at their next catalogue refresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from detection.engine import (
    DETECTOR_NAME,
    BaselineLearned,
    Batch,
    DetectionEngine,
    EngineEvent,
    EnginePolicy,
)
from detection.errors import DetectionError, StateError
from detection.outbox import Outbox
from storage.anomalies import open_anomaly_keys
from storage.connect import Conn, DatabaseUnavailable, Reconnecting, first_line
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
    """Synchronous core of the detection process (runs in a worker thread).

    Parameters
    ----------
    conninfo : str
    policy : EnginePolicy
    shard : Shard, optional
    before_store : callable, optional
        Called with a step's events after the engine has scored the batch and before they
        are stored (a seam for tests that cut the database exactly there).
    """

    def __init__(self, *, conninfo: str, policy: EnginePolicy, shard: Shard | None = None,
                 before_store: Callable[[Sequence[EngineEvent]], None] | None = None) -> None:
        self._policy = policy
        self._shard = shard or Shard()
        self._before_store = before_store
        self._db = Reconnecting(conninfo)
        self.engine: DetectionEngine | None = None
        self._watermark: datetime | None = None
        # Polls re-read an overlapping window so a point committed late is still scored;
        # the clock makes that exactly once.
        self._clock = SeriesClock()
        self._last_sweep = float("-inf")
        self.points_read = 0
        self.points_scored = 0
        self._codes: dict[int, str] = {}
        self._known_robots: set[int] = set()
        self._known_signals: set[int] = set()
        self._versions: dict[int, int] = {}  # newest registry version in use per robot
        self.outbox = Outbox(name_of=self.name_of, on_model=self._versions.__setitem__)

    @property
    def opened(self) -> int:
        return self.outbox.opened

    @property
    def closed(self) -> int:
        return self.outbox.closed

    def name_of(self, robot_id: int) -> str:
        """A robot's code (as ticketing names it in its logs)."""
        return self._codes.get(robot_id, f"#{robot_id}")

    def _connection(self) -> Conn:
        return self._db.get()

    def close(self) -> None:
        self._db.close()

    def connect(self) -> None:
        """(Re)connect: start the engine the first time, then store what waited while the
        database was away. Raises ``DatabaseUnavailable`` while it is still away."""
        conn = self._connection()
        if self.engine is None:
            self.start()
        if len(self.outbox):
            waiting = len(self.outbox)
            self.outbox.flush(conn)
            log.info("database back: %d waiting events stored", waiting)

    def start(self) -> None:
        conn = self._connection()
        robots = robot_lines(conn=conn)
        self._codes = {rid: code for rid, (code, _) in robots.items()}
        lines = {rid: line for rid, (_, line) in robots.items() if self._shard.owns(rid)}
        names = {sid: name for name, sid in signal_ids(conn=conn).items()}
        self._known_signals = set(names)
        self.engine = DetectionEngine(policy=self._policy, signal_names=names, robot_lines=lines,
                                      robot_codes=self._codes)
        self._known_robots = set(lines)
        self._restore(conn, set(lines))
        for rid, component, kind in open_anomaly_keys(conn=conn):
            if rid in lines:
                self.engine.mark_open(rid, component, kind)
        # Start from now: history before this start is not re-scored after a restart.
        self._watermark = datetime.now(UTC) - timedelta(seconds=self._policy.engine.read_lag_s)
        log.info("detection: %d robots, %d stored baselines", len(lines),
                 sum(1 for r in lines if self.engine.has_baseline(r)))

    def _restore(self, conn: Conn, robots: set[int]) -> None:
        assert self.engine is not None
        for rid, model in latest_models(conn=conn, detector=DETECTOR_NAME).items():
            if rid not in robots:
                continue
            self._versions[rid] = model.version
            try:
                self.engine.restore_baseline(rid, model.state)
                log.info("robot %s: baseline v%d restored", self.name_of(rid), model.version)
            except StateError as exc:  # a bad stored model means relearning, not a crash
                log.error("robot %s: stored baseline v%s unusable (%s); relearning",
                          self.name_of(rid), model.version, exc)

    def refresh_catalogue(self) -> None:
        """Pick up robots and signals registered since start, and retrained baselines."""
        assert self.engine is not None
        conn = self._connection()
        names = {sid: name for name, sid in signal_ids(conn=conn).items()}
        self._known_signals = set(names)
        self.engine.set_signals(names)
        for rid, (code, line) in robot_lines(conn=conn).items():
            self._codes[rid] = code
            if self._shard.owns(rid) and rid not in self._known_robots:
                self.engine.add_robot(rid, line, code=code)
                self._known_robots.add(rid)
        newer = {rid for rid, v in latest_versions(conn=conn, detector=DETECTOR_NAME).items()
                 if rid in self._known_robots and v > self._versions.get(rid, 0)}
        if newer:
            self._restore(conn, newer)

    def step(self) -> list[EngineEvent]:
        """Read telemetry up to now - read_lag, score what is new, store the outcome.

        Each poll re-reads ``reread_s`` before the previous poll's end (points the collectors
        committed since), and every ``late_sweep_s`` the whole ``max_lateness_s`` window.
        Raises ``DatabaseUnavailable`` when the connection is lost; events the engine has
        reported stay in :attr:`outbox` for the next connection.
        """
        assert self.engine is not None and self._watermark is not None
        conn = self._connection()
        self.outbox.flush(conn)  # what a lost connection left behind goes first, in order
        cfg = self._policy.engine
        until = datetime.now(UTC) - timedelta(seconds=cfg.read_lag_s)
        back = min(cfg.reread_s, cfg.max_lateness_s)
        if time.monotonic() - self._last_sweep >= cfg.late_sweep_s:
            back = cfg.max_lateness_s
            self._last_sweep = time.monotonic()
        points = read_points(conn=conn, after=self._watermark - timedelta(seconds=back),
                             until=until, worker=self._shard.worker, workers=self._shard.workers)
        if len(points) and (set(np.unique(points.robot).tolist()) - self._known_robots
                            or set(np.unique(points.signal).tolist()) - self._known_signals):
            # Collectors register robots and signals on first sight: pick them up now rather
            # than at the next periodic refresh, or the first minute of data goes unscored.
            # Before the clock moves: a refresh that fails must not cost these points.
            self.refresh_catalogue()
        batch = fresh_batch(points, self._clock)
        self.points_read += len(points)
        self.points_scored += len(batch)
        events = self.engine.process(batch, now=until.timestamp())
        self._watermark = until
        self.outbox.add(events)
        if self._before_store is not None:
            self._before_store(events)
        self.outbox.flush(conn)
        return events


def retrain_robot(*, conn: Conn, policy: EnginePolicy, robot_id: int,
                  after: datetime, until: datetime) -> int:
    """Learn a new baseline version of one robot from its stored telemetry in
    ``(after, until]`` (a period the caller knows to be healthy); return the version.

    The period must cover the engine's learning time (``[cycle] baseline_s``); the robot's
    own data is replayed through a fresh engine, so the baseline is exactly what the
    streaming engine would have learnt from it.
    """
    names = {sid: name for name, sid in signal_ids(conn=conn).items()}
    robots = robot_lines(conn=conn)
    if robot_id not in robots:
        raise DetectionError(f"no robot with id {robot_id}")
    code, line = robots[robot_id]
    span = (until - after).total_seconds()
    engine = DetectionEngine(policy=policy, signal_names=names, robot_lines={robot_id: line},
                             robot_codes={robot_id: code})
    rows = training_points(conn=conn, robot_id=robot_id, after=after, until=until)
    if not rows:
        raise DetectionError(f"robot {code}: no telemetry between {after} and {until}")
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
        raise DetectionError(f"robot {code}: {span:.0f} s of data did not complete a "
                             f"baseline (needs {policy.cycle.baseline_s:.0f} s of running program)")
    with conn.transaction():
        return save_model(conn=conn, robot_id=robot_id, detector=DETECTOR_NAME,
                          params=learned.params | {"retrained": True}, state=learned.state,
                          trained_from=_utc(learned.trained_from),
                          trained_to=_utc(learned.trained_to))


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    except TimeoutError:
        pass


async def run_detection(*, conninfo: str, policy: EnginePolicy, stop: asyncio.Event,
                        shard: Shard | None = None, refresh_every_s: float = 30.0,
                        service: DetectionService | None = None) -> None:
    """Poll, score and store until ``stop`` is set; outlive a lost database.

    The connect step is retried with capped exponential backoff and jitter; once connected,
    the polls run until the connection is lost again, so the backoff starts afresh after
    every healthy period. ``service`` replaces the one built from the arguments (tests).
    """
    svc = service or DetectionService(conninfo=conninfo, policy=policy, shard=shard)
    cfg = policy.engine

    def note(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("database unavailable (%s); retrying in %.1f s",
                    first_line(exc) if exc else "?", wait)

    async def sleep(seconds: float) -> None:
        await _sleep_unless(stop, seconds)

    try:
        while not stop.is_set():
            try:
                async for attempt in AsyncRetrying(
                        retry=retry_if_exception_type(DatabaseUnavailable),
                        wait=wait_exponential_jitter(multiplier=cfg.poll_interval_s,
                                                     max=cfg.reconnect_max_s,
                                                     jitter=cfg.poll_interval_s),
                        stop=lambda _state: stop.is_set(), sleep=sleep, before_sleep=note,
                        reraise=True):
                    with attempt:
                        await asyncio.to_thread(svc.connect)
            except DatabaseUnavailable:
                break  # stopped while the database was away
            await _poll(svc, stop, interval=cfg.poll_interval_s, refresh_every_s=refresh_every_s)
    finally:
        await asyncio.to_thread(svc.close)
        if len(svc.outbox):
            log.error("stopped with %d engine events not stored", len(svc.outbox))


async def _poll(svc: DetectionService, stop: asyncio.Event, *, interval: float,
                refresh_every_s: float) -> None:
    """Step every ``interval`` until ``stop`` is set or the connection is lost."""
    last_refresh = time.monotonic()
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            if t0 - last_refresh >= refresh_every_s:
                await asyncio.to_thread(svc.refresh_catalogue)
                last_refresh = t0
            await asyncio.to_thread(svc.step)
        except DatabaseUnavailable as exc:
            log.warning("database connection lost (%s); %d events wait to be stored",
                        first_line(exc), len(svc.outbox))
            await asyncio.to_thread(svc.close)
            return
        await _sleep_unless(stop, interval - (time.monotonic() - t0))
