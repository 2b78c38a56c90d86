"""``bench fleet``: the streaming engine against a simulated fleet's ground truth.

Offline: the simulator's fleet model (``simulators.model.FleetModel``) is stepped in
simulated time, faster than real time, and its values are fed straight to the detection
engine in one-second batches (what ``detect run`` reads per poll); no broker, no database.
The figures therefore cover the detection logic and its compute cost, not collection,
ingest lag or the service's polling (see docs/detection.md, "Fleet benchmark").

The fault schedule is the scenario's own (``--schedule scenario``) or, by default, generated:
``--faults-per-kind`` robots per fault kind, each with one fault of random joint, onset and
severity (seeded), so every kind is measured on several robots while the rest stay healthy.
One engine policy (``--policy``, default the packaged one) serves the whole run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from detection.benchmarks.fleet import Detection, FaultTruth, RulSample, score_fleet
from detection.engine import AnomalyOpened, Batch, DetectionEngine
from detection.engine.config import EnginePolicy
from detection.engine.rul_levels import (
    FailureObservation,
    failure_levels_toml,
    learn_failure_levels,
)
from simulators.labels import labels_for
from simulators.model import FleetModel
from simulators.scenario import (
    EVENT_KINDS,
    FAULT_KINDS,
    JOINT_COMPONENTS,
    Fault,
    Scenario,
    ScenarioError,
    packaged_scenario_path,
)

log = logging.getLogger(__name__)

# Life fractions at which the RUL estimate is compared with the truth.
_RUL_FRACTIONS = (0.5, 0.9)
_STUCK_QUANTITIES = ("temperature", "vibration", "current", "torque")


def generated_faults(scenario: Scenario, *, per_kind: int, duration_s: float, warmup_s: float,
                     speedup: float, seed: int) -> tuple[Fault, ...]:
    """One fault per robot, ``per_kind`` robots per kind, spread over lines (seeded).

    Progressive faults start between ``warmup_s`` and mid-run and fail before the end;
    events last seconds (collision) to minutes (stoppage, link loss, stuck sensor).
    """
    rng = np.random.default_rng([seed, 7])
    codes = [p.robot.code for p in scenario.robots()]
    need = per_kind * len(FAULT_KINDS)
    if need > len(codes):
        raise ScenarioError(f"{need} faulted robots needed, the fleet has {len(codes)}; "
                            "use more --robots or fewer --faults-per-kind")
    robots = [str(c) for c in rng.permutation(codes)[:need]]
    faults = []
    for i, robot in enumerate(robots):
        kind = FAULT_KINDS[i % len(FAULT_KINDS)]
        comp = str(rng.choice(JOINT_COMPONENTS))
        onset = float(rng.uniform(warmup_s, 0.5 * duration_s))
        sev = float(rng.uniform(0.7, 1.3))
        d: dict[str, Any] = {"robot": robot, "component": comp, "kind": kind,
                             "onset_s": onset * speedup, "severity": sev}
        if kind in EVENT_KINDS:
            d["duration_s"] = {"collision": 10.0, "stoppage": 60.0, "comm_loss": 60.0,
                               "sensor_stuck": 120.0}[kind] * speedup
            if kind in ("comm_loss", "stoppage", "sensor_stuck"):
                d["component"] = "controller" if kind != "sensor_stuck" else comp
            if kind == "sensor_stuck":
                d["signal"] = f"{comp}.{rng.choice(_STUCK_QUANTITIES)}"
        else:
            life = float(rng.uniform(0.3, 0.45)) * duration_s
            d["failure_s"] = (onset + min(life, 0.95 * duration_s - onset)) * speedup
        faults.append(Fault(**d))
    return tuple(faults)




def fleet_scenario(scenario: str, *, robots: int, schedule: str, per_kind: int,
                   duration: float, warmup: float, speedup: float, seed: int) -> Scenario:
    """The packaged scenario ``scenario`` (or a TOML path) scaled to ``robots``, with its own
    fault schedule or a generated one; ``ScenarioError`` names what is wrong."""
    if schedule not in ("generated", "scenario"):
        raise ScenarioError(f"schedule must be generated or scenario, not {schedule!r}")
    path = Path(scenario) if scenario.endswith(".toml") else packaged_scenario_path(scenario)
    sc = Scenario.load(path).scaled(robots)
    if schedule == "generated":
        return replace(sc, faults=generated_faults(
            sc, per_kind=per_kind, duration_s=duration, warmup_s=warmup,
            speedup=speedup, seed=seed))
    return sc


def write_levels(path: Path, seen: list[FailureObservation], pol: EnginePolicy, *,
                  command: str) -> dict[str, Any]:
    learnt = learn_failure_levels(seen, pol.rul.failure)
    counts = Counter(ob.kind for ob in seen)
    path.write_text(f"# Failure levels learnt by `{command}`\n\n"
                    + failure_levels_toml(learnt, counts), encoding="utf-8")
    log.info("failure levels of %d observed failures written to %s", len(seen), path)
    return {"file": str(path), "failures_observed": dict(sorted(counts.items())),
            "levels": {k: [f.low, f.level, f.high] for k, f in sorted(learnt.items())}}


def run_fleet(sc: Scenario, pol: EnginePolicy, *, seed: int, duration: float, rate: float,
              speedup: float, batch: float) -> tuple[dict[str, Any], list[FailureObservation]]:
    """One offline run of the engine over ``sc``: the result table and, per component that
    failed while watched, the indicator it read just before failing."""
    start = 1_800_000_000.0
    model = FleetModel(sc, seed=seed, speedup=speedup, start_time=start)
    names = model.signal_names
    rid_of = {code: i + 1 for i, code in enumerate(model.robot_codes)}
    line_ids: dict[tuple[str, str, str], int] = {}
    lines = {}
    for p, code in zip(model.placed, model.robot_codes, strict=True):
        key = (p.customer.code, p.site.code, p.line.code)
        lines[rid_of[code]] = line_ids.setdefault(key, len(line_ids) + 1)
    engine = DetectionEngine(policy=pol, signal_names={i + 1: n for i, n in enumerate(names)},
                             robot_lines=lines)
    labels = labels_for(sc.faults, run_id="bench-fleet", start_time=start, speedup=speedup)
    truths = [FaultTruth(robot_id=rid_of[lb.robot], component=lb.component, kind=lb.kind,
                         onset=lb.onset, failure=lb.failure, end=lb.end,
                         gradual=lb.kind not in EVENT_KINDS) for lb in labels]
    rul_due = sorted(
        (f.onset + frac * (f.failure - f.onset), frac, i) for i, f in enumerate(truths)
        if f.gradual and f.failure is not None for frac in _RUL_FRACTIONS)
    rul: list[RulSample] = []
    # What each failing component's indicator read just before its failure (the controller's
    # protective stop changes every signal from then on).
    at_failure = sorted((f.failure - 2.0, i) for i, f in enumerate(truths)
                        if f.gradual and f.failure is not None)
    seen_at_failure: list[FailureObservation] = []

    n = model.n_robots
    sig_ids = np.arange(1, len(names) + 1, dtype=np.int64)
    robot_ids = np.arange(1, n + 1, dtype=np.int64)
    ticks = np.arange(0.0, duration, 1.0 / rate) + start
    per_batch = max(1, round(batch * rate))
    detections: list[Detection] = []
    opened: list[AnomalyOpened] = []
    engine_s = model_s = engine_cpu_s = 0.0
    latencies: list[float] = []
    batch_times: list[float] = []
    points = 0
    for b0 in range(0, ticks.size, per_batch):
        t0 = time.perf_counter()
        cols_t, cols_r, cols_v = [], [], []
        for t in ticks[b0:b0 + per_batch]:
            vals = model.step(float(t))
            pub = np.flatnonzero(model.publishing)
            cols_t.append(np.full(pub.size * len(names), t))
            cols_r.append(np.repeat(robot_ids[pub], len(names)))
            cols_v.append(vals[pub].ravel())
        tt = np.concatenate(cols_t)
        rr = np.concatenate(cols_r)
        vv = np.concatenate(cols_v)
        ss = np.tile(sig_ids, tt.size // len(names))
        now = float(ticks[min(b0 + per_batch, ticks.size) - 1])
        t1 = time.perf_counter()
        c1 = time.process_time()
        events = engine.process(Batch(tt, rr, ss, vv), now=now)
        t2 = time.perf_counter()
        engine_cpu_s += time.process_time() - c1
        model_s += t1 - t0
        engine_s += t2 - t1
        batch_times.append(t2 - t1)
        points += tt.size
        for ev in events:
            if isinstance(ev, AnomalyOpened):
                opened.append(ev)
                # sample that completed the condition -> event out: the wait for the end
                # of its batch plus the engine's work on that batch
                if ev.detected_at is not None and ev.kind != "communication_loss":
                    latencies.append(now - ev.detected_at + (t2 - t1))
                detections.append(Detection(robot_id=ev.robot_id, component=ev.component,
                                            kind=ev.kind, detected_at=float(ev.detected_at or now)))
        while rul_due and rul_due[0][0] <= now:
            _, frac, i = rul_due.pop(0)
            f = truths[i]
            est = engine.health.latest.get((f.robot_id, f.component))
            rul.append(RulSample(kind=f.kind, life_fraction=frac,
                                 life=float(f.failure - f.onset) if f.failure else 0.0,
                                 true_rul=float(f.failure - now) if f.failure else 0.0,
                                 rul=None if est is None else est.rul_s,
                                 low=None if est is None else est.rul_low_s,
                                 high=None if est is None else est.rul_high_s))
        while at_failure and at_failure[0][0] <= now:
            f = truths[at_failure.pop(0)[1]]
            got = engine.health.recent(f.robot_id, f.component)
            if got is not None:
                seen_at_failure.append(FailureObservation(kind=got[0], indicator=got[1]))
    score = score_fleet(truths, detections, run_end=float(ticks[-1]), rul=rul)
    code_of = {v: k for k, v in rid_of.items()}
    missed = score.as_json()["missed"]
    for m in missed:
        m["robot"] = code_of[m.pop("robot_id")]
        m["onset"] = round(m["onset"] - start, 1)
    bt = np.array(batch_times)
    result = {
        "benchmark": "fleet", "mode": "offline (model -> engine, no broker/DB)",
        "scenario": sc.name, "robots": n, "duration_s": duration,
        "rate_hz": rate, "speedup": speedup, "seed": seed, "faults": len(truths),
        **score.as_json(), "missed": missed,
        "engine": {"points": points, "points_scored": engine.points_scored,
                   "seconds": round(engine_s, 2), "cpu_seconds": round(engine_cpu_s, 2),
                   "points_per_s": round(points / engine_s) if engine_s else None,
                   "scored_points_per_s": (round(engine.points_scored / engine_s)
                                           if engine_s else None),
                   "batch_p50_ms": round(1000 * float(np.median(bt)), 2),
                   "batch_p99_ms": round(1000 * float(np.quantile(bt, 0.99)), 2),
                   "batch_s": batch, "suppressed_by_line_limit": engine.suppressed,
                   "decision_latency_p50_s": (round(float(np.median(latencies)), 3)
                                              if latencies else None),
                   "decision_latency_p99_s": (round(float(np.quantile(latencies, 0.99)), 3)
                                              if latencies else None)},
        "model_seconds": round(model_s, 2),
    }
    return result, seen_at_failure
