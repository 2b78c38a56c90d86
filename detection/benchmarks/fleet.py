"""Scoring of the streaming engine against a simulated fleet's ground truth.

Pure bookkeeping, no simulator or database: the caller turns the simulator's labels into
:class:`FaultTruth` rows and the engine's events into :class:`Detection` rows.

Matching. A detection belongs to a fault of the same robot when it was *detected* (the
engine's decision time, not the start of the breach it reports) from ``pre_s`` before the
onset until the fault stops acting plus ``grace_s`` (an event's end; for a progressive fault
the end of the run, since the failed robot stays in a protective stop). A fault is found
when at least one detection belongs to it; its delay is the first such detection time minus
the onset. Every detection that belongs to no fault is a false alarm.

* recall of a kind: found faults / faults of that kind;
* precision of a kind: detections belonging to faults of that kind / those plus the false
  alarms on the robots that carry a fault of that kind;
* overall precision: all belonging detections / all detections (false alarms on healthy
  robots included).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FaultTruth", "Detection", "RulSample", "KindScore", "FleetScore", "score_fleet"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultTruth:
    robot_id: int
    component: str
    kind: str
    onset: float
    failure: float | None  # progressive faults: RUL(t) = failure - t
    end: float | None      # events with a duration
    gradual: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    robot_id: int
    component: str
    kind: str
    detected_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RulSample:
    """The engine's RUL estimate for a faulted component at a fraction of its life."""

    kind: str
    life_fraction: float
    life: float  # onset to failure
    true_rul: float
    rul: float | None  # None: no estimate (not detected yet, or no trend)
    low: float | None
    high: float | None


@dataclass(slots=True)
class KindScore:
    kind: str
    gradual: bool
    faults: int = 0
    found: int = 0
    true_detections: int = 0
    false_alarms: int = 0
    component_right: int = 0
    delays: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        tp, fp = self.true_detections, self.false_alarms
        return {
            "gradual": self.gradual, "faults": self.faults, "found": self.found,
            "recall": round(self.found / self.faults, 3) if self.faults else None,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "detections": tp, "false_alarms": fp,
            "median_delay_s": round(float(np.median(self.delays)), 1) if self.delays else None,
            "max_delay_s": round(float(np.max(self.delays)), 1) if self.delays else None,
            "component_right": self.component_right,
        }


@dataclass(slots=True)
class FleetScore:
    kinds: dict[str, KindScore]
    detections: int
    true_detections: int
    false_alarms_healthy: int
    rul: list[RulSample]
    false_alarm_kinds: dict[str, int] = field(default_factory=dict)
    missed: list[FaultTruth] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        sudden = [k for k in self.kinds.values() if not k.gradual]

        def pooled(ks: Sequence[KindScore]) -> dict[str, float | None]:
            f = sum(k.faults for k in ks)
            tp = sum(k.true_detections for k in ks)
            fp = sum(k.false_alarms for k in ks)
            d = [x for k in ks for x in k.delays]
            return {"recall": round(sum(k.found for k in ks) / f, 3) if f else None,
                    "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                    "median_delay_s": round(float(np.median(d)), 1) if d else None}

        return {
            "overall_precision": (round(self.true_detections / self.detections, 3)
                                  if self.detections else None),
            "detections": self.detections,
            "false_alarms_on_healthy_robots": self.false_alarms_healthy,
            "false_alarm_kinds": dict(sorted(self.false_alarm_kinds.items())),
            "missed": [{"robot_id": f.robot_id, "component": f.component, "kind": f.kind,
                        "onset": f.onset} for f in self.missed],
            "non_gradual": pooled(sudden),
            "gradual": pooled([k for k in self.kinds.values() if k.gradual]),
            "per_kind": {k: v.as_json() for k, v in sorted(self.kinds.items())},
            "rul": _rul_summary(self.rul),
        }


def _rul_summary(samples: Sequence[RulSample]) -> dict[str, Any]:
    out = _rul_errors(samples)
    out["per_kind"] = {kind: _rul_errors([s for s in samples if s.kind == kind])
                       for kind in sorted({s.kind for s in samples})}
    return out


def _rul_errors(samples: Sequence[RulSample]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for frac in sorted({s.life_fraction for s in samples}):
        at = [s for s in samples if s.life_fraction == frac]
        est = [s for s in at if s.rul is not None]
        err = [abs(s.rul - s.true_rul) for s in est if s.rul is not None]
        rel = [e / s.true_rul for e, s in zip(err, est, strict=True) if s.true_rul > 0]
        of_life = [e / s.life for e, s in zip(err, est, strict=True) if s.life > 0]
        inside = [s for s in est if s.low is not None and s.high is not None
                  and s.low <= s.true_rul <= s.high]
        out[f"{round(100 * frac)}%"] = {
            "faults": len(at), "estimated": len(est),
            "median_abs_error_s": round(float(np.median(err)), 1) if err else None,
            "median_rel_error": round(float(np.median(rel)), 3) if rel else None,
            "median_error_of_life": round(float(np.median(of_life)), 3) if of_life else None,
            "band_coverage": round(len(inside) / len(est), 3) if est else None,
        }
    return out


def score_fleet(truths: Sequence[FaultTruth], detections: Sequence[Detection], *,
                run_end: float, pre_s: float = 5.0, grace_s: float = 30.0,
                rul: Sequence[RulSample] = ()) -> FleetScore:
    kinds: dict[str, KindScore] = {}
    by_robot: dict[int, list[int]] = defaultdict(list)
    for i, f in enumerate(truths):
        kinds.setdefault(f.kind, KindScore(f.kind, f.gradual)).faults += 1
        by_robot[f.robot_id].append(i)

    def window(f: FaultTruth) -> tuple[float, float]:
        stop = f.end if f.end is not None else run_end
        return f.onset - pre_s, stop + grace_s

    first: dict[int, Detection] = {}
    fa_kinds: dict[str, int] = defaultdict(int)
    true_total = healthy_fp = 0
    for d in sorted(detections, key=lambda x: x.detected_at):
        mine = by_robot.get(d.robot_id, [])
        hits = [i for i in mine if window(truths[i])[0] <= d.detected_at <= window(truths[i])[1]]
        if hits:
            # the fault whose onset is nearest before the detection explains it
            i = max(hits, key=lambda j: truths[j].onset if truths[j].onset <= d.detected_at
                    else -np.inf)
            true_total += 1
            kinds[truths[i].kind].true_detections += 1
            first.setdefault(i, d)
        elif mine:
            kinds[truths[mine[0]].kind].false_alarms += 1
            fa_kinds[f"{d.component}.{d.kind}"] += 1
        else:
            healthy_fp += 1
            fa_kinds[f"{d.component}.{d.kind}"] += 1
    for i, d in first.items():
        f = truths[i]
        k = kinds[f.kind]
        k.found += 1
        k.delays.append(max(0.0, d.detected_at - f.onset))
        k.component_right += int(d.component == f.component)
    return FleetScore(kinds=kinds, detections=len(detections), true_detections=true_total,
                      false_alarms_healthy=healthy_fp, rul=list(rul),
                      false_alarm_kinds=dict(fa_kinds),
                      missed=[f for i, f in enumerate(truths) if i not in first])
