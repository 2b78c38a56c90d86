"""``bench maintenance``: three planners on one simulated fleet over a long horizon.

Offline, in simulated time, like ``bench fleet``: no broker, no database. A fleet of robots
(sites of a few robots in a few cities, the default maintenance policy and its windows) runs
for ``days`` days; each robot's counters grow with its own utilisation, and degradations of
its joints develop over days to weeks to a known failure instant. The condition data are
summarised per hour (one mean indicator per component, what the engine's health tracker
consumes per batch; ``_SUMMARY`` says why not finer) and fed to detection's real
:class:`HealthTracker`, whose health index and RUL band go to the planner exactly as storage
would hand them over.

Three planners plan on the same fleet, every ``step_h`` hours, and carry out the visits that
start before the next step: calendar only, calendar + usage, calendar + usage + condition.
A degradation counts as inspected before failure when an on-site inspection of its robot
takes place between the moment it is measurable and its failure; the inspection repairs it
(for that planner), otherwise it fails. Lead time is failure minus the inspection's start.

Assumptions of the scenario (not of the planner), each chosen to be plain rather than kind:
* the indicator is the component's quantity over its healthy level (the engine's "ratio"
  scale) and grows with the kind's trend model of the engine policy to a failure level drawn
  from the policy's ``[low, high]`` band (clipped to at least ``1.3``: a ratio closer to 1 is
  within noise);
* the engine opens the anomaly (and the tracker starts) when the indicator is ``open_ratio``
  above healthy; an inspection can see the wear from the same moment;
* 3 % multiplicative noise on each hourly mean.
"""

from __future__ import annotations

import statistics
import time as wall
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from detection.engine.config import load_engine_policy
from detection.engine.health import HealthTracker, QuantityLevel
from maintenance.planner import Completion, RobotInfo, RobotState, counters_now, due_items
from maintenance.policy import MaintenancePolicy, builtin_policy
from maintenance.scheduler import schedule
from maintenance.triggers import CounterReading, HealthReading
from maintenance.windows import SiteCalendar

__all__ = ["Degradation", "run_maintenance", "PLANNERS"]

PLANNERS: dict[str, frozenset[str]] = {
    "calendar": frozenset({"calendar"}),
    "usage": frozenset({"calendar", "usage"}),
    "full": frozenset({"calendar", "usage", "condition"}),
}
# Degradation kinds simulated, all on the engine's ratio scale (its learnt failure bands).
_KINDS = ("vibration_high", "current_high", "torque_high")
# Plans done remotely do not see mechanical wear.
_REMOTE_PLANS = frozenset({"software"})
# One condition summary per hour: the tracker's RUL fit costs O(points^2) pairs times its
# bootstrap, and with ten-minute summaries (432 points in the three-day window) one estimate
# took 0.35 s here against 0.04 s for hourly ones (2 shared cores, measured 2 Dec 2026), which
# put the 180-day run well past the 10-minute budget.
_SUMMARY = timedelta(hours=1)
_CITIES = ("Suzhou", "Wuxi", "Shanghai", "Hangzhou")


@dataclass(frozen=True, slots=True, kw_only=True)
class Degradation:
    id: int
    robot: str
    component: str
    kind: str
    model: str
    level: float
    onset: datetime
    failure: datetime
    measurable: datetime

    def indicator(self, at: datetime) -> float:
        s = (at - self.onset) / (self.failure - self.onset)
        s = min(max(s, 0.0), 1.0)
        if self.model == "quadratic":
            return 1.0 + (self.level - 1.0) * s * s
        if self.model == "exponential":
            return 1.0 + (self.level - 1.0) * float(np.expm1(3 * s) / np.expm1(3.0))
        return 1.0 + (self.level - 1.0) * s


@dataclass(slots=True)
class _Planner:
    triggers: frozenset[str]
    completions: dict[tuple[str, str], Completion]
    resolved: dict[int, float | None] = field(default_factory=dict)  # lead h, None: failed
    inspections: int = 0


def _fleet(n: int, start: datetime, rng: np.random.Generator) -> tuple[list[RobotInfo],
                                                                       dict[str, float]]:
    robots, use = [], {}
    for k in range(n):
        site = f"site{k // 5:02d}"
        robots.append(RobotInfo(code=f"R{k:03d}", customer=f"cust{k // 10:02d}", site=site,
                                city=_CITIES[(k // 5) % len(_CITIES)], brand="KUKA",
                                model="KR210", in_service_since=start - timedelta(days=400)))
        # Servo-on hours per calendar hour: two shifts six days a week (16 * 6 / 7 / 24 =
        # 0.57) times a utilisation between 0.6 and 1.4 (a third shift on busy lines).
        use[robots[-1].code] = 16 * 6 / 7 / 24 * float(rng.uniform(0.6, 1.4))
    return robots, use


def _degradations(robots: list[RobotInfo], start: datetime, days: float, per_robot_year: float,
                  open_ratio: float, rng: np.random.Generator,
                  failure: dict[str, Any]) -> list[Degradation]:
    out: list[Degradation] = []
    for r in robots:
        for _ in range(int(rng.poisson(per_robot_year * days / 365))):
            kind = _KINDS[int(rng.integers(len(_KINDS)))]
            f = failure[kind]
            level = float(rng.uniform(max(f.low, 1.3), f.high))
            length = timedelta(days=float(rng.uniform(4, 28)))
            onset = start + timedelta(days=float(rng.uniform(5, days))) - length
            if onset < start + timedelta(days=5):
                onset = start + timedelta(days=5)
            d = Degradation(id=len(out), robot=r.code, component=f"J{int(rng.integers(1, 7))}",
                            kind=kind, model=f.model, level=level, onset=onset,
                            failure=onset + length, measurable=onset)
            # When the engine opens the anomaly: the first summary above open_ratio.
            t = onset
            while d.indicator(t) < open_ratio and t < d.failure:
                t += _SUMMARY
            out.append(Degradation(**{**{k: getattr(d, k) for k in d.__slots__},
                                      "measurable": t}))
    return out


def _initial(robots: list[RobotInfo], policy: MaintenancePolicy, start: datetime,
             rng: np.random.Generator) -> dict[tuple[str, str], Completion]:
    """Last completions spread over each plan's period, so calendar visits are staggered."""
    out = {}
    for r in robots:
        for name, plan in policy.plans.items():
            rule = plan.calendar
            period = 30.0 if rule is None else (
                rule.every_days if rule.every_days else (rule.every_months or 1) * 30.4)
            out[(r.code, name)] = Completion(
                at=start - timedelta(days=float(rng.uniform(0, period))), counters={})
    return out


def run_maintenance(
    *, robots: int = 60, days: float = 180.0, seed: int = 0, step_h: float = 6.0,
    per_robot_year: float = 2.0, open_ratio: float = 1.15,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the three planners; the JSON the command prints."""
    t0 = wall.perf_counter()
    rng = np.random.default_rng(seed)
    policy = builtin_policy()
    engine = load_engine_policy(None)
    failure = {k: engine.rul.failure[k] for k in _KINDS}
    start = datetime(2026, 1, 5, tzinfo=UTC)
    end = start + timedelta(days=days)
    fleet, use = _fleet(robots, start, rng)
    degs = _degradations(fleet, start, days, per_robot_year, open_ratio, rng, failure)
    degs = [d for d in degs if d.failure <= end and d.measurable < d.failure]
    # The engine's tracker, on the time scale of wear: a trend over three days, re-estimated
    # every planning step (the packaged policy's 10-min window is for minutes-long faults).
    cfg = engine.rul.model_copy(update={"kinds": _KINDS, "failure": failure,
                                        "every_s": step_h * 3600, "window_s": 3 * 86400.0})
    tracker = HealthTracker(cfg)
    rid = {r.code: n for n, r in enumerate(fleet)}
    readings: dict[int, list[HealthReading]] = {d.id: [] for d in degs}
    initial = _initial(fleet, policy, start, rng)
    planners = {name: _Planner(triggers=trig, completions=dict(initial))
                for name, trig in PLANNERS.items()}
    calendars = {r.site: SiteCalendar(policy.windows_of(r.site)) for r in fleet}
    step = timedelta(hours=step_h)
    t, fed = start, start
    noise = np.random.default_rng([seed, 1])
    estimates = 0
    while t < end:
        nxt = t + step
        # Condition data up to now: hourly means of every measurable, not yet failed
        # degradation; the tracker estimates from them, and the planners plan from that.
        live = [d for d in degs if d.measurable <= t and d.failure > fed]
        for d in live:
            tracker.start(rid[d.robot], d.component, d.kind)
            at = max(fed, d.measurable)
            while at < min(t, d.failure):
                y = d.indicator(at) * float(1 + 0.03 * noise.standard_normal())
                tracker.add(rid[d.robot], d.component, at.timestamp(), y,
                            {failure[d.kind].quantity: QuantityLevel(y, 1.0)})
                at += _SUMMARY
        for d in live:
            if d.failure <= t:
                tracker.stop(rid[d.robot], d.component, d.kind)
        fed = t
        by_key = {(rid[d.robot], d.component): d for d in live if d.failure > t}
        for u in tracker.estimate(t.timestamp()):
            hit = by_key.get((u.robot_id, u.component))
            if hit is not None:
                estimates += 1
                readings[hit.id].append(HealthReading(
                    at=datetime.fromtimestamp(u.at, UTC), component=u.component, kind=u.kind,
                    health=u.health, rul_s=u.rul_s, rul_low_s=u.rul_low_s,
                    rul_high_s=u.rul_high_s))
        counters = {r.code: {
            "operating_hours": [CounterReading(at=t - timedelta(days=7),
                                               value=use[r.code] * ((t - start).total_seconds()
                                                                    / 3600 - 168)),
                                CounterReading(at=t, value=use[r.code] * (t - start)
                                               .total_seconds() / 3600)]} for r in fleet}
        for c in counters.values():
            # One program cycle per 40 s of servo-on time.
            c["cycle_count"] = [CounterReading(at=x.at, value=x.value * 90)
                                for x in c["operating_hours"]]
        for p in planners.values():
            _plan_step(p, policy=policy, fleet=fleet, calendars=calendars, degs=degs,
                       readings=readings,
                       counters=counters, now=t, until=nxt)
        t = nxt
        if progress is not None and (t - start) % timedelta(days=10) < step:
            progress(f"day {(t - start).days:3d}/{days:g}, {sum(d.failure <= t for d in degs)}"
                     f"/{len(degs)} degradations due: " + ", ".join(
                         f"{n} caught {sum(v is not None for v in p.resolved.values())} "
                         f"({p.inspections} inspections)" for n, p in planners.items())
                     + f" [{wall.perf_counter() - t0:.0f} s]")
    robot_years = robots * days / 365
    out: dict[str, Any] = {}
    for name, p in planners.items():
        leads = [v for v in p.resolved.values() if v is not None]
        out[name] = {
            "inspected_before_failure": round(len(leads) / len(degs), 3) if degs else None,
            "median_lead_time_h": round(statistics.median(leads), 1) if leads else None,
            "inspections_per_robot_year": round(p.inspections / robot_years, 2)}
    base = out["calendar"]["inspections_per_robot_year"]
    return {"robots": robots, "days": days, "seed": seed, "degradations": len(degs),
            "step_h": step_h, "health_estimates": estimates,
            "lead_time_goal_h": policy.condition.lead_time_h,
            "full_extra_inspections": round(out["full"]["inspections_per_robot_year"] / base - 1,
                                            3) if base else None,
            "seconds": round(wall.perf_counter() - t0, 1), "planners": out}


def _plan_step(p: _Planner, *, policy: MaintenancePolicy, fleet: list[RobotInfo],
               calendars: dict[str, SiteCalendar],
               degs: list[Degradation], readings: dict[int, list[HealthReading]],
               counters: dict[str, dict[str, list[CounterReading]]], now: datetime,
               until: datetime) -> None:
    for d in degs:  # unseen wear fails
        if d.id not in p.resolved and d.failure <= now:
            p.resolved[d.id] = None
    health: dict[str, dict[str, list[HealthReading]]] = {r.code: {} for r in fleet}
    for d in degs:
        if d.id not in p.resolved and readings[d.id]:
            health[d.robot][f"{d.component}/{d.kind}/{d.id}"] = readings[d.id]
    states = {r.code: RobotState(counters=counters[r.code], health=health[r.code])
              for r in fleet}
    items = due_items(policy=policy, robots=fleet, completions=p.completions, states=states,
                      triggers=p.triggers)
    visits, _ = schedule(policy=policy, items=items, robots=fleet, now=now, calendars=calendars)
    for v in visits:
        if v.slot.start >= until:
            continue
        for it in v.items:
            p.inspections += 1
            state = states[it.robot]
            p.completions[(it.robot, it.plan)] = Completion(at=v.slot.end,
                                                            counters=counters_now(state))
            if it.plan in _REMOTE_PLANS:
                continue
            for d in degs:
                if (d.robot == it.robot and d.id not in p.resolved
                        and d.measurable <= v.slot.start < d.failure):
                    p.resolved[d.id] = (d.failure - v.slot.start).total_seconds() / 3600
