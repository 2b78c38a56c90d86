"""The streaming engine's core: telemetry batches in, anomaly events out. No I/O here.

Per robot it learns a :class:`~detection.limits.RobustLimits` baseline from the first
``baseline_s`` seconds of data (or takes a stored one), then scores every new point of the
monitored signals. A limit exceeded for ``breach_s`` opens one anomaly per robot +
component + kind; it closes after ``recovery_s`` back below ``recovery_score`` (hysteresis,
so a value hovering at the limit does not flap). A robot silent for ``stale_s`` gets a
communication-loss anomaly. New anomalies per line are rate-limited.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.engine_config import EnginePolicy, component_of, quantity_of
from detection.limits import RobustLimits

__all__ = ["AnomalyOpened", "AnomalyClosed", "BaselineLearned", "EngineEvent", "Batch",
           "DetectionEngine", "DETECTOR_NAME"]

log = logging.getLogger(__name__)

DETECTOR_NAME = "robust_limits"


# -- events ----------------------------------------------------------------------------------
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


EngineEvent = AnomalyOpened | AnomalyClosed | BaselineLearned


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


# -- per-robot state -------------------------------------------------------------------------
@dataclass
class _Track:
    """Breach / recovery bookkeeping of one (robot, signal, direction)."""

    breach_since: float | None = None
    recover_since: float | None = None
    open: bool = False
    peak: float = 0.0


@dataclass
class _Robot:
    robot_id: int
    line_id: int
    baseline: RobustLimits | None = None
    columns: dict[int, int] = field(default_factory=dict)  # signal id -> baseline column
    train: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    train_from: float | None = None
    learned_to: float | None = None
    last_seen: float | None = None
    stale_open: bool = False
    tracks: dict[tuple[int, str], _Track] = field(default_factory=dict)
    recent: dict[int, deque[tuple[float, float]]] = field(default_factory=dict)


class DetectionEngine:
    """Feed :class:`Batch` es to :meth:`process`; act on the events it returns.

    Parameters
    ----------
    policy : EnginePolicy
    signal_names : mapping of signal id -> name (the catalogue; grows with :meth:`set_signals`)
    robot_lines : mapping of robot id -> line id
    """

    def __init__(self, *, policy: EnginePolicy, signal_names: Mapping[int, str],
                 robot_lines: Mapping[int, int]) -> None:
        self.policy = policy
        self._signals: dict[int, str] = {}
        self._monitored: set[int] = set()
        self._static_high: dict[int, float] = {}
        self.set_signals(signal_names)
        self._robots: dict[int, _Robot] = {
            rid: _Robot(rid, line) for rid, line in robot_lines.items()
        }
        self._line_alerts: dict[int, deque[float]] = defaultdict(deque)
        self.suppressed = 0

    # -- set-up ----------------------------------------------------------------------------
    def set_signals(self, signal_names: Mapping[int, str]) -> None:
        self._signals = dict(signal_names)
        watched = set(self.policy.limits.monitored)
        self._monitored = {sid for sid, n in self._signals.items() if quantity_of(n) in watched}
        static = self.policy.static_high
        self._static_high = {sid: static[quantity_of(n)] for sid, n in self._signals.items()
                             if quantity_of(n) in static}

    def add_robot(self, robot_id: int, line_id: int) -> None:
        self._robots.setdefault(robot_id, _Robot(robot_id, line_id))

    def restore_baseline(self, robot_id: int, state: Mapping[str, Any]) -> None:
        """Use a stored baseline (a restarted engine does not relearn)."""
        robot = self._robots.get(robot_id)
        if robot is None:
            return
        det = RobustLimits.from_state(state)
        by_name = {n: sid for sid, n in self._signals.items()}
        robot.baseline = det
        robot.columns = {by_name[c]: j for j, c in enumerate(det.columns_) if c in by_name}

    def mark_open(self, robot_id: int, component: str, kind: str) -> None:
        """Resume an anomaly left open by an earlier run, so it is not opened twice."""
        robot = self._robots.get(robot_id)
        if robot is None:
            return
        if kind == "communication_loss":
            robot.stale_open = True
            return
        for sid, name in self._signals.items():
            if component_of(name) != component:
                continue
            for direction in ("high", "low"):
                if kind == f"{quantity_of(name)}_{direction}":
                    robot.tracks[(sid, direction)] = _Track(open=True)

    def has_baseline(self, robot_id: int) -> bool:
        r = self._robots.get(robot_id)
        return r is not None and r.baseline is not None

    # -- processing --------------------------------------------------------------------------
    def process(self, batch: Batch, *, now: float) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        if batch.time.size:
            order = np.argsort(batch.robot, kind="stable")
            robots, starts = np.unique(batch.robot[order], return_index=True)
            bounds = [*starts[1:], order.size]
            for rid, lo, hi in zip(robots, starts, bounds, strict=True):
                robot = self._robots.get(int(rid))
                if robot is None:
                    continue
                idx = order[lo:hi]
                events.extend(self._process_robot(robot, batch.time[idx], batch.signal[idx],
                                                  batch.value[idx]))
        events.extend(self._check_stale(now))
        return events

    def _process_robot(self, robot: _Robot, t: NDArray[np.float64], s: NDArray[np.int64],
                       v: NDArray[np.float64]) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        robot.last_seen = float(t.max()) if robot.last_seen is None else max(robot.last_seen, float(t.max()))
        if robot.stale_open:
            robot.stale_open = False
            events.append(AnomalyClosed(robot_id=robot.robot_id, component="link",
                                        kind="communication_loss", ended_at=float(t.min())))
        mask = np.isin(s, list(self._monitored))
        t, s, v = t[mask], s[mask], v[mask]
        if t.size == 0:
            return events
        if robot.baseline is None:
            learned = self._learn(robot, t, s, v)
            if learned is not None:
                events.append(learned)
        self._remember(robot, t, s, v)
        # Two views of one point, merged into one score per direction (> 1 = outside):
        # the robot model's static limit, valid from the first sample, and the learnt
        # baseline, once there is one. One track per signal and direction, so a fault seen
        # by both opens one anomaly, not two.
        high = np.array([self._static_high.get(int(x), np.nan) for x in s])
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(high > 0, v / high, np.nan)
        down = np.full(v.shape, np.nan)
        det = robot.baseline
        if det is not None:
            cols = np.array([robot.columns.get(int(x), -1) for x in s])
            ok = cols >= 0
            if learned_to := robot.learned_to:
                ok &= t > learned_to
            signed = np.full(v.shape, np.nan)
            c = cols[ok]
            signed[ok] = (v[ok] - det.median_[c]) / (det.scale_[c] * det.k)
            up = np.fmax(up, signed)
            down = -signed
        for sid in np.unique(s):
            m = s == sid
            events.extend(self._track(robot, int(sid), t[m], up[m], down[m]))
        return events

    def _learn(self, robot: _Robot, t: NDArray[np.float64], s: NDArray[np.int64],
               v: NDArray[np.float64]) -> BaselineLearned | None:
        cfg = self.policy.engine
        if robot.train_from is None:
            robot.train_from = float(t.min())
        end = robot.train_from + cfg.baseline_s
        sel = t <= end
        for sid, val in zip(s[sel], v[sel], strict=True):
            robot.train[int(sid)].append(float(val))
        if t.max() <= end:
            return None
        usable = {sid: vals for sid, vals in robot.train.items()
                  if len(vals) >= cfg.min_baseline_points}
        if not usable:
            log.warning("robot %s: no signal with %d baseline points after %.0f s; relearning",
                        robot.robot_id, cfg.min_baseline_points, cfg.baseline_s)
            robot.train.clear()
            robot.train_from = None
            return None
        sids = sorted(usable)
        n = max(len(usable[x]) for x in sids)
        X = np.full((n, len(sids)), np.nan)
        for j, sid in enumerate(sids):
            X[: len(usable[sid]), j] = usable[sid]
        lim = self.policy.limits
        det = RobustLimits(k=lim.k, min_scale=lim.min_scale, rel_min_scale=lim.rel_min_scale)
        det.fit(X, columns=[self._signals[x] for x in sids])
        robot.baseline = det
        robot.columns = {sid: j for j, sid in enumerate(sids)}
        robot.learned_to = end
        robot.train.clear()
        log.info("robot %s: baseline learnt on %d signals", robot.robot_id, len(sids))
        return BaselineLearned(robot_id=robot.robot_id, state=det.to_state(),
                               params=det.get_params(), trained_from=robot.train_from,
                               trained_to=end)

    def _remember(self, robot: _Robot, t: NDArray[np.float64], s: NDArray[np.int64],
                  v: NDArray[np.float64]) -> None:
        keep = self.policy.engine.evidence_points
        for sid in np.unique(s):
            m = s == sid
            buf = robot.recent.setdefault(int(sid), deque(maxlen=keep))
            buf.extend(zip(t[m][-keep:].tolist(), v[m][-keep:].tolist(), strict=True))

    def _track(self, robot: _Robot, sid: int, t: NDArray[np.float64],
               up: NDArray[np.float64], down: NDArray[np.float64]) -> list[EngineEvent]:
        cfg = self.policy.engine
        events: list[EngineEvent] = []
        for direction, score in (("high", up), ("low", down)):
            key = (sid, direction)
            track = robot.tracks.get(key)
            if track is None:
                if not (score > 1.0).any():
                    continue  # the common case: nothing near the limits
                track = robot.tracks[key] = _Track()
            for ti, sc in zip(t.tolist(), score.tolist(), strict=True):
                if sc != sc:  # NaN: no limit applies to this point
                    continue
                if not track.open:
                    if sc > 1.0:
                        if track.breach_since is None:
                            track.breach_since = ti
                        track.peak = max(track.peak, sc)
                        if ti - track.breach_since >= cfg.breach_s:
                            opened = self._open(robot, sid, direction, track, ti)
                            if opened is not None:
                                events.append(opened)
                    else:
                        track.breach_since, track.peak = None, 0.0
                else:
                    if sc < cfg.recovery_score:
                        if track.recover_since is None:
                            track.recover_since = ti
                        if ti - track.recover_since >= cfg.recovery_s:
                            name = self._signals[sid]
                            events.append(AnomalyClosed(
                                robot_id=robot.robot_id, component=component_of(name),
                                kind=f"{quantity_of(name)}_{direction}", ended_at=ti))
                            robot.tracks.pop(key)
                            break
                    else:
                        track.recover_since = None
        return events

    def _open(self, robot: _Robot, sid: int, direction: str, track: _Track,
              now: float) -> AnomalyOpened | None:
        if not self._admit(robot.line_id, now):
            track.breach_since = now  # try again once the line's window has room
            return None
        track.open = True
        track.recover_since = None
        name = self._signals[sid]
        recent = list(robot.recent.get(sid, ()))
        evidence: dict[str, Any] = {
            "signal": name,
            "peak_score": round(track.peak, 3),
            "static_high": self._static_high.get(sid),
            "window": [[round(a, 3), b] for a, b in recent],
        }
        det = robot.baseline
        j = robot.columns.get(sid)
        if det is not None and j is not None:
            evidence.update(median=float(det.median_[j]),
                            lower=float(det.median_[j] - det.k * det.scale_[j]),
                            upper=float(det.median_[j] + det.k * det.scale_[j]))
        q = quantity_of(name)
        return AnomalyOpened(
            robot_id=robot.robot_id, component=component_of(name), kind=f"{q}_{direction}",
            signals=(name,), score=float(track.peak), impact=self.policy.impact_of(q),
            started_at=float(track.breach_since if track.breach_since is not None else now),
            evidence=evidence,
        )

    def _admit(self, line_id: int, now: float) -> bool:
        cfg = self.policy.engine
        window = self._line_alerts[line_id]
        while window and window[0] <= now - cfg.line_alert_window_s:
            window.popleft()
        if len(window) >= cfg.line_alert_limit:
            self.suppressed += 1
            log.warning("line %s: more than %d new anomalies in %.0f s; suppressing",
                        line_id, cfg.line_alert_limit, cfg.line_alert_window_s)
            return False
        window.append(now)
        return True

    def _check_stale(self, now: float) -> list[EngineEvent]:
        cfg = self.policy.engine
        events: list[EngineEvent] = []
        for robot in self._robots.values():
            if robot.last_seen is None or robot.stale_open:
                continue
            if now - robot.last_seen >= cfg.stale_s:
                if not self._admit(robot.line_id, now):
                    continue
                robot.stale_open = True
                events.append(AnomalyOpened(
                    robot_id=robot.robot_id, component="link", kind="communication_loss",
                    signals=(), score=float(now - robot.last_seen),
                    impact=self.policy.impact_of("stale"), started_at=robot.last_seen,
                    evidence={"last_seen": robot.last_seen, "silent_s": round(now - robot.last_seen, 1)},
                ))
        return events
