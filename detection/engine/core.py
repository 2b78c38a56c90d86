"""The streaming engine's core: telemetry batches in, anomaly events out. No I/O here.

Per robot it learns a baseline (:mod:`detection.engine_baseline`) from its first healthy
minutes: level limits for temperatures and vibration after ``baseline_s``, limits per phase
of the program cycle for current, torque and following error after ``[cycle] baseline_s``.
A changed program (another cycle time or payload) starts a new baseline instead of alarms.
Points are scored only while the robot runs its program; a stopped arm cools and stops
vibrating by design. The robot model's static upper limits apply from the first sample.

An anomaly opens per robot + component + kind when a limit is exceeded for ``breach_s``, or
``spike_count`` times within ``spike_window_s`` (intermittent faults), or when a signal has
not changed for ``flat_s`` (stuck sensor); controller alarms open one at once. It closes
after ``recovery_s`` back below ``recovery_score`` (hysteresis against flapping). A robot
silent for ``stale_s`` gets a communication-loss anomaly. New anomalies per line are
rate-limited. The work per batch is a handful of numpy passes over all points; Python
loops run only over the few (robot, signal) pairs near or past a limit.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.engine.baseline import RobotBaseline, Training
from detection.engine.catalogue import COMPONENTS, Catalogue
from detection.engine.config import EnginePolicy, component_of, quantity_of
from detection.engine.context import group_starts, last_per_group
from detection.engine.events import (
    DETECTOR_NAME,
    AnomalyClosed,
    AnomalyOpened,
    BaselineLearned,
    Batch,
    EngineEvent,
)
from detection.engine.health import HealthTracker, QuantityLevel
from detection.engine.limits import LimitTables
from detection.engine.program import ProgramTracker, Rows
from detection.engine.series import EvidenceRing, FlatLines

__all__ = ["DetectionEngine"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class _Track:
    """Breach / recovery bookkeeping of one (robot, signal, kind)."""

    breach_since: float | None = None
    recover_since: float | None = None
    open: bool = False
    absorbed: bool = False  # part of another open anomaly of the same component
    peak: float = 0.0
    hits: deque[float] = field(default_factory=deque)


@dataclass
class _Robot:
    robot_id: int
    line_id: int
    slot: int
    name: str  # the robot's code where known, for the logs
    training: Training | None = None
    stale_open: bool = False
    alarm: int = 0  # open alarm code
    alarm_clear_since: float | None = None
    tracks: dict[tuple[int, str], _Track] = field(default_factory=dict)


class DetectionEngine:
    """Feed :class:`~detection.engine.events.Batch` es to :meth:`process`; act on the events
    it returns.

    The engine is composed of a :class:`~detection.engine.catalogue.Catalogue` (which
    signals are scored, how), the learnt :class:`~detection.engine.limits.LimitTables`, the
    :class:`~detection.engine.program.ProgramTracker` (program state and cycle phase per
    robot), the per-series :class:`~detection.engine.series.FlatLines` and
    :class:`~detection.engine.series.EvidenceRing`, and a
    :class:`~detection.engine.health.HealthTracker`; it makes the decisions.

    Parameters
    ----------
    policy : EnginePolicy
    signal_names : mapping of signal id -> name (the catalogue; grows with :meth:`set_signals`)
    robot_lines : mapping of robot id -> line id
    robot_codes : mapping of robot id -> code, optional
        Names robots in the logs as ticketing does (``R-0001``); default ``#<id>``.
    """

    def __init__(self, *, policy: EnginePolicy, signal_names: Mapping[int, str],
                 robot_lines: Mapping[int, int],
                 robot_codes: Mapping[int, str] | None = None) -> None:
        self.policy = policy
        self.catalogue = Catalogue(policy)
        self._limits = LimitTables(policy, self.catalogue)
        self._program = ProgramTracker(policy.context, policy.cycle.n_phases)
        self._flat = FlatLines(policy.engine.flat_s)
        self._evidence = EvidenceRing(policy.engine.evidence_points)
        self._capacity = 0
        self._robots: dict[int, _Robot] = {}
        self._by_slot: list[_Robot] = []
        self._slot_of = np.full(1, -1, np.int64)
        self._line_alerts: dict[int, deque[float]] = defaultdict(deque)
        self._line_muted: dict[int, float] = {}
        self.health = HealthTracker(policy.rul)
        self.suppressed = 0
        self.points_scored = 0
        self.set_signals(signal_names)
        for rid, line in robot_lines.items():
            self.add_robot(rid, line, code=(robot_codes or {}).get(rid))

    # -- set-up ----------------------------------------------------------------------------
    def set_signals(self, signal_names: Mapping[int, str]) -> None:
        """Adopt the signal catalogue; columns only grow, so learnt baselines stay valid."""
        self.catalogue.update(signal_names)
        self._resize(len(self._by_slot))

    def _resize(self, n_slots: int) -> None:
        """(Re)build the per-slot tables for ``n_slots`` robots and the current columns,
        keeping what they held."""
        self._capacity = max(n_slots, 1)
        c = len(self.catalogue)
        self._limits.resize(n_slots)
        self._program.resize(n_slots)
        self._flat.resize(n_slots, c)
        self._evidence.resize(n_slots, c)

    def add_robot(self, robot_id: int, line_id: int, *, code: str | None = None) -> None:
        if robot_id in self._robots:
            return
        robot = _Robot(robot_id, line_id, slot=len(self._by_slot),
                       name=code or f"#{robot_id}")
        self._robots[robot_id] = robot
        self._by_slot.append(robot)
        if robot_id >= self._slot_of.size:
            grown = np.full(max(robot_id + 1, 2 * self._slot_of.size), -1, np.int64)
            grown[: self._slot_of.size] = self._slot_of
            self._slot_of = grown
        self._slot_of[robot_id] = robot.slot
        if robot.slot >= self._capacity:
            self._resize(2 * len(self._by_slot))

    def restore_baseline(self, robot_id: int, state: Mapping[str, Any]) -> None:
        """Use a stored baseline (a restarted engine does not relearn); StateError if bad."""
        robot = self._robots.get(robot_id)
        if robot is None:
            return
        base = RobotBaseline.from_state(state)
        self._limits.install(robot.slot, base)
        # A level-only baseline still owes its cycle limits: they are learnt afresh from the
        # first running point after the restart. Resuming the old training period instead
        # (started = trained_from, hours or a day ago) made the period look complete at the
        # first batch, so cycle limits came from one second of data and scored the rest of
        # the cycle as torque/current anomalies (the second `robowatch demo`, robot R-0201:
        # its 30 s machine-tending cycle had not finished learning when the first run ended).
        robot.training = None

    def baseline_of(self, robot_id: int) -> RobotBaseline | None:
        r = self._robots.get(robot_id)
        return None if r is None else self._limits.bases.get(r.slot)

    def has_baseline(self, robot_id: int) -> bool:
        return self.baseline_of(robot_id) is not None

    def name_of(self, robot_id: int) -> str:
        """How the logs name a robot: its code where known."""
        r = self._robots.get(robot_id)
        return f"#{robot_id}" if r is None else r.name

    def mark_open(self, robot_id: int, component: str, kind: str) -> None:
        """Resume an anomaly left open by an earlier run, so it is not opened twice."""
        robot = self._robots.get(robot_id)
        if robot is None:
            return
        if kind == "communication_loss":
            robot.stale_open = True
            return
        if component == "controller" and kind in self._alarm_kinds().values():
            code = {v: k for k, v in self._alarm_kinds().items()}[kind]
            robot.alarm = int(code) if code.isdigit() else -1
            return
        for c, name in enumerate(self.catalogue.columns):
            if component_of(name) == component and kind.startswith(quantity_of(name) + "_"):
                robot.tracks[(c, kind.rsplit("_", 1)[1])] = _Track(open=True)

    def _alarm_kinds(self) -> dict[str, str]:
        return self.policy.context.alarm_kinds

    # -- processing --------------------------------------------------------------------------
    def process(self, batch: Batch, *, now: float) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        if len(batch):
            events.extend(self._process(batch))
        events.extend(self._check_stale(now))
        events.extend(self.health.estimate(now))
        return events

    def _process(self, batch: Batch) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        rid = batch.robot
        known = (rid >= 0) & (rid < self._slot_of.size)
        slot = np.full(rid.shape, -1, np.int64)
        slot[known] = self._slot_of[rid[known]]
        sig = batch.signal
        ok = (slot >= 0) & np.isfinite(batch.value) & (sig >= 0)
        t, slot, sig, v = batch.time[ok], slot[ok], sig[ok], batch.value[ok]
        if t.size == 0:
            return events
        seen = self._program.last_seen
        last_t, _ = last_per_group(slot, t, t, seen.size)
        back = np.flatnonzero(np.isfinite(last_t))
        for s in back:
            robot = self._by_slot[s]
            if robot.stale_open:
                robot.stale_open = False
                events.append(AnomalyClosed(robot_id=robot.robot_id, component="link",
                                            kind="communication_loss", ended_at=float(last_t[s])))
        seen[back] = np.fmax(seen[back], last_t[back])

        ctx: dict[str, Rows] = {k: (slot[m], t[m], v[m]) for k, sid in
                                self.catalogue.context.items()
                                if sid >= 0 and (m := sig == sid).any()}
        events.extend(self._alarms(ctx.get("alarm_code")))
        state_before = self._program.state_before()
        boundaries = self._program.cycles(ctx.get("cycle_count"), ctx.get("program_state"))
        self._programs(ctx)

        col = self.catalogue.column_of(sig)
        m = col >= 0
        t, slot, col, v = t[m], slot[m], col[m], v[m]
        c = len(self.catalogue)
        order = np.argsort(slot * c + col, kind="stable")
        t, slot, col, v = t[order], slot[order], col[order], v[order]
        self.points_scored += int(t.size)

        running = self._program.running(ctx.get("program_state"), state_before, slot, t)
        phase = self._program.phase(boundaries, ctx.get("cycle_time"), slot, t)
        events.extend(self._learn(slot, col, t, v, running, phase))

        cat = self.catalogue
        signed, healthy = self._limits.score(slot, col, t, v, running, phase)
        with np.errstate(invalid="ignore", divide="ignore"):
            up = np.fmax(v / cat.static_high[col], signed)
        down = np.where(cat.high_only[col], np.nan, -signed)
        flat = self._flat.score(slot, col, t, v, cat.flat[col], running)
        self._evidence.remember(slot, col, t, v)

        key = slot * c + col
        starts, ends = group_starts(key)
        cand = np.zeros(starts.size, bool)
        with np.errstate(invalid="ignore"):
            for arr in (up, down, flat):
                if starts.size:
                    cand |= np.logical_or.reduceat(arr > 1.0, starts)
        active = [r.slot * c + ck for r in self._by_slot if r.tracks for ck, _ in r.tracks]
        if active:
            cand |= np.isin(key[starts], active)
        for g in np.flatnonzero(cand):
            lo, hi = starts[g], ends[g]
            robot, cc = self._by_slot[int(slot[lo])], int(col[lo])
            for kind, score in (("high", up), ("low", down), ("flatline", flat)):
                events.extend(self._track(robot, cc, kind, t[lo:hi], score[lo:hi]))
        self._indicators(slot, col, t, np.fmax(up, down), v, healthy)
        return events

    def _programs(self, ctx: dict[str, Rows]) -> None:
        """Relearn a robot whose program changed (another cycle time or payload)."""
        rel = self.policy.cycle.program_change_rel
        for key in ("cycle_time", "payload"):
            if key not in ctx:
                continue
            s, t, v = ctx[key]
            lt, lv = last_per_group(s, t, v, len(self._by_slot))
            for i in np.flatnonzero(np.isfinite(lt)):
                robot = self._by_slot[i]
                tr = robot.training
                if key == "cycle_time" and tr is not None:
                    tr.cycle_time.append(float(lv[i]))
                if key == "payload" and tr is not None and tr.payload is None:
                    tr.payload = float(lv[i])
                ref = None
                b = self._limits.bases.get(robot.slot)
                if b is not None:
                    ref = b.cycle_time if key == "cycle_time" else b.payload
                elif tr is not None:
                    ref = (float(np.median(tr.cycle_time[:50])) if key == "cycle_time"
                           and tr.cycle_time else tr.payload if key == "payload" else None)
                if ref is None or abs(lv[i] - ref) <= rel * max(abs(ref), 1e-9):
                    continue
                log.info("robot %s: %s %.3f -> %.3f; program changed, relearning baseline",
                         robot.name, key, ref, lv[i])
                self._limits.forget(robot.slot)
                robot.training = Training(started=float(lt[i]))

    def _learn(self, slot: NDArray[np.int64], col: NDArray[np.int64], t: NDArray[np.float64],
               v: NDArray[np.float64], running: NDArray[np.bool_],
               phase: NDArray[np.int64]) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        bases = self._limits.bases
        pending = [r for r in self._by_slot
                   if r.slot not in bases or not bases[r.slot].cycle_learnt]
        if not pending:
            return events
        bounds = np.searchsorted(slot, np.arange(len(self._by_slot) + 1))
        cfg, cyc, lim = self.policy.engine, self.policy.cycle, self.policy.limits
        for robot in pending:
            lo, hi = bounds[robot.slot], bounds[robot.slot + 1]
            if lo == hi:
                continue
            run = running[lo:hi]
            if robot.training is None:
                if not run.any():
                    continue
                robot.training = Training(started=float(t[lo:hi][run].min()))
            tr = robot.training
            sel = run & (t[lo:hi] >= tr.started)
            tr.add(col[lo:hi][sel], phase[lo:hi][sel], v[lo:hi][sel])
            t_max = float(t[lo:hi].max())
            period = float(np.median(tr.cycle_time)) if tr.cycle_time else 0.0
            level_s = max(cfg.baseline_s, cfg.baseline_cycles * period)
            stage_cycle = t_max > tr.started + max(cyc.baseline_s, level_s)
            old = bases.get(robot.slot)
            stage_level = old is None and t_max > tr.started + level_s
            if not (stage_level or stage_cycle):
                continue
            end = tr.started + (max(cyc.baseline_s, level_s) if stage_cycle else level_s)
            cat = self.catalogue
            base = tr.learn(columns=cat.columns, is_cycle=cat.is_cycle, k=lim.k,
                            n_phases=cyc.n_phases, min_points=cfg.min_baseline_points,
                            min_cycle_points=cyc.min_points, min_scale=lim.min_scale,
                            rel_min_scale=lim.rel_min_scale, until=end, with_cycle=stage_cycle,
                            quantile=cyc.quantile)
            if old is not None:  # keep the level limits learnt first
                idx = [old.columns.index(n) if n in old.columns else -1 for n in base.columns]
                for j, oj in enumerate(idx):
                    if oj >= 0:
                        base.level_median[j] = old.level_median[oj]
                        base.level_scale[j] = old.level_scale[oj]
                base.trained_to = end
            if not (np.isfinite(base.level_median).any()
                    or np.isfinite(base.cycle_median).any()):
                log.warning("robot %s: too few healthy points in %.0f s; relearning",
                            robot.name, end - tr.started)
                robot.training = None
                continue
            self._limits.install(robot.slot, base)
            if stage_level:
                self._limits.level_to[robot.slot] = tr.started + level_s
            if stage_cycle:
                robot.training = None
            log.info("robot %s: baseline learnt (%s)", robot.name,
                     "level + cycle" if stage_cycle else "level")
            events.append(BaselineLearned(robot_id=robot.robot_id, state=base.to_state(),
                                          params={"k": lim.k, "n_phases": cyc.n_phases},
                                          trained_from=tr.started, trained_to=end))
        return events

    def _track(self, robot: _Robot, col: int, kind: str, t: NDArray[np.float64],
               score: NDArray[np.float64]) -> list[EngineEvent]:
        cfg = self.policy.engine
        events: list[EngineEvent] = []
        key = (col, kind)
        track = robot.tracks.get(key)
        if track is None:
            with np.errstate(invalid="ignore"):
                if not (score > 1.0).any():
                    return events
            track = robot.tracks[key] = _Track()
        last = float("nan")
        for ti, sc in zip(t.tolist(), score.tolist(), strict=True):
            if sc != sc:  # NaN: no limit applies to this point
                continue
            last = ti
            if not track.open:
                if sc > 1.0:
                    if track.breach_since is None:
                        track.breach_since = ti
                    track.peak = max(track.peak, sc)
                    track.hits.append(ti)
                    while track.hits and track.hits[0] < ti - cfg.spike_window_s:
                        track.hits.popleft()
                    spikes = cfg.spike_count > 0 and len(track.hits) >= cfg.spike_count
                    if ti - track.breach_since >= cfg.breach_s or spikes:
                        opened = self._open(robot, col, kind, track, ti)
                        if opened is not None:
                            events.append(opened)
                else:
                    track.breach_since = None
            elif sc < cfg.recovery_score:
                if track.recover_since is None:
                    track.recover_since = ti
                if ti - track.recover_since >= cfg.recovery_s:
                    if not track.absorbed:
                        events.append(self._close(robot, col, kind, ti))
                    track = robot.tracks[key] = _Track()
            else:
                track.recover_since = None
        idle = not track.open and track.breach_since is None and (
            not track.hits or track.hits[-1] < last - cfg.spike_window_s)
        if idle:
            robot.tracks.pop(key, None)
        return events

    def _close(self, robot: _Robot, col: int, kind: str, now: float) -> AnomalyClosed:
        name = self.catalogue.columns[col]
        comp, q = component_of(name), f"{quantity_of(name)}_{kind}"
        self.health.stop(robot.robot_id, comp, q)
        if kind != "flatline":  # the signals it absorbed may open one of their own now
            for (c, k), tr in list(robot.tracks.items()):
                if tr.absorbed and component_of(self.catalogue.columns[c]) == comp:
                    robot.tracks.pop((c, k))
        return AnomalyClosed(robot_id=robot.robot_id, component=comp, kind=q, ended_at=now)

    def _primary(self, robot: _Robot, col: int) -> bool:
        """True when no other limit anomaly of this signal's component is open."""
        comp = component_of(self.catalogue.columns[col])
        return not any(tr.open and not tr.absorbed and k != "flatline"
                       and component_of(self.catalogue.columns[c]) == comp
                       for (c, k), tr in robot.tracks.items())

    def _open(self, robot: _Robot, col: int, kind: str, track: _Track,
              now: float) -> AnomalyOpened | None:
        # One fault shows in several signals of its joint (friction: torque, current, heat);
        # one anomaly per component carries it, so service gets one ticket, not four.
        if kind != "flatline" and not self._primary(robot, col):
            track.open = track.absorbed = True
            track.recover_since = None
            return None
        if not self._admit(robot.line_id, now):
            track.breach_since = now  # try again once the line's window has room
            track.hits.clear()
            return None
        track.open = True
        track.recover_since = None
        cat = self.catalogue
        name = cat.columns[col]
        s = robot.slot
        started = track.hits[0] if track.hits else now
        if track.breach_since is not None:
            started = min(started, track.breach_since)
        evidence: dict[str, Any] = {
            "signal": name, "peak_score": round(track.peak, 3),
            "static_high": (None if np.isnan(cat.static_high[col])
                            else float(cat.static_high[col])),
            "baseline": "cycle" if cat.is_cycle[col] else "level",
            "window": self._evidence.window(s, col),
        }
        med, sc = self._limits.level(s, col)
        if not cat.is_cycle[col] and np.isfinite(med):
            k = self.policy.limits.k
            evidence.update(median=med, lower=med - k * sc, upper=med + k * sc)
        q = quantity_of(name)
        full = f"{q}_{kind}"
        if self.health.tracks(full) and component_of(name) in COMPONENTS:
            self.health.start(robot.robot_id, component_of(name), full)
        return AnomalyOpened(
            robot_id=robot.robot_id, component=component_of(name), kind=full, signals=(name,),
            score=float(track.peak), impact=self.policy.impact_of(q), started_at=float(started),
            evidence=evidence, detected_at=now,
            detector="flat_line" if kind == "flatline" else DETECTOR_NAME)

    def _alarms(self, rows: tuple[Any, Any, Any] | None) -> list[EngineEvent]:
        """Controller alarms open an anomaly at once and close once cleared ``recovery_s``."""
        events: list[EngineEvent] = []
        if rows is None:
            return events
        s, t, v = rows
        order = np.lexsort((t, s))
        s, t, v = s[order], t[order], v[order]
        interesting = np.flatnonzero(v != 0)
        open_slots = [r.slot for r in self._by_slot if r.alarm]
        if open_slots:
            interesting = np.union1d(interesting, np.flatnonzero(np.isin(s, open_slots)))
        kinds = self._alarm_kinds()
        for i in interesting:
            robot, code, ti = self._by_slot[int(s[i])], int(v[i]), float(t[i])
            if robot.alarm and code != robot.alarm:
                if robot.alarm_clear_since is None:
                    robot.alarm_clear_since = ti
                if code or ti - robot.alarm_clear_since >= self.policy.engine.recovery_s:
                    events.append(AnomalyClosed(
                        robot_id=robot.robot_id, component="controller",
                        kind=kinds.get(str(robot.alarm), f"alarm_{robot.alarm}"), ended_at=ti))
                    robot.alarm, robot.alarm_clear_since = 0, None
            elif robot.alarm:
                robot.alarm_clear_since = None
            if code and not robot.alarm and self._admit(robot.line_id, ti):
                robot.alarm = code
                kind = kinds.get(str(code), f"alarm_{code}")
                events.append(AnomalyOpened(
                    robot_id=robot.robot_id, component="controller", kind=kind,
                    signals=(self.policy.context.alarm_code,), score=float(code),
                    impact=self.policy.impact_of("alarm"), started_at=ti,
                    evidence={"alarm_code": code}, detected_at=ti, detector="controller_alarm"))
        return events

    def _indicators(self, slot: NDArray[np.int64], col: NDArray[np.int64],
                    t: NDArray[np.float64], score: NDArray[np.float64],
                    v: NDArray[np.float64], base: NDArray[np.float64]) -> None:
        """Degradation indicators of each watched component, this batch: its largest score,
        and per quantity the mean magnitude of its signals and of their healthy baseline."""
        watched = self.health.watched()
        if not watched or t.size == 0:
            return
        comp = self.catalogue.component[col]
        m = (comp >= 0) & np.isfinite(score)
        ind = np.full((len(self._by_slot), len(COMPONENTS)), np.nan)
        np.fmax.at(ind, (slot[m], comp[m]), score[m])
        c = len(self.catalogue)
        key = slot * c + col
        ok = np.isfinite(base) & np.isfinite(v)
        size = len(self._by_slot) * c
        num = np.bincount(key[ok], np.abs(v[ok]), minlength=size)
        den = np.bincount(key[ok], np.abs(base[ok]), minlength=size)
        cnt = np.bincount(key[ok], minlength=size)
        tmax = float(t.max())
        for rid, component in watched:
            robot = self._robots[rid]
            value = float(ind[robot.slot, COMPONENTS.index(component)])
            # Sums per quantity over the component's signals (a joint has one signal of each
            # quantity today; summing keeps a component with several honest).
            sums: dict[str, list[float]] = {}
            for cc in np.flatnonzero(self.catalogue.component == COMPONENTS.index(component)):
                k = robot.slot * c + cc
                if den[k] > 0:
                    acc = sums.setdefault(quantity_of(self.catalogue.columns[cc]), [0.0, 0.0, 0.0])
                    acc[0] += float(num[k])
                    acc[1] += float(den[k])
                    acc[2] += float(cnt[k])
            levels = {q: QuantityLevel(value=a / n, healthy=b / n)
                      for q, (a, b, n) in sums.items()}
            self.health.add(rid, component, tmax, value, levels)

    def _admit(self, line_id: int, now: float) -> bool:
        cfg = self.policy.engine
        window = self._line_alerts[line_id]
        while window and window[0] <= now - cfg.line_alert_window_s:
            window.popleft()
        if len(window) >= cfg.line_alert_limit:
            if self._line_muted.get(line_id) != window[0]:  # once per full window, not per point
                self._line_muted[line_id] = window[0]
                log.warning("line %s: %d new anomalies within %.0f s; suppressing more",
                            line_id, cfg.line_alert_limit, cfg.line_alert_window_s)
            self.suppressed += 1
            return False
        window.append(now)
        return True

    def _check_stale(self, now: float) -> list[EngineEvent]:
        cfg = self.policy.engine
        events: list[EngineEvent] = []
        seen = self._program.last_seen[: len(self._by_slot)]
        with np.errstate(invalid="ignore"):
            silent = np.flatnonzero(now - seen >= cfg.stale_s)
        for s in silent:
            robot = self._by_slot[s]
            if robot.stale_open or not self._admit(robot.line_id, now):
                continue
            robot.stale_open = True
            last = float(seen[s])
            events.append(AnomalyOpened(
                robot_id=robot.robot_id, component="link", kind="communication_loss",
                signals=(), score=float(now - last), impact=self.policy.impact_of("stale"),
                started_at=last, evidence={"last_seen": last, "silent_s": round(now - last, 1)},
                detected_at=now, detector="stale_data"))
        return events
