"""Ground truth of a run: each scheduled fault with its wall-clock onset and failure time.

Written once at the start of a run (the schedule is known in advance) to a JSON Lines file and,
when a database is given, to the ``fault_labels`` table. Times are Unix seconds / UTC
datetimes of the wall clock, so they line up with the telemetry's ``ts``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from simulators.scenario import EVENT_KINDS, Fault
from storage.ground_truth import FaultLabel

__all__ = ["Label", "labels_for", "write_labels_file", "read_labels_file", "to_storage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    run_id: str
    robot: str
    component: str
    kind: str
    severity: float
    onset: float                 # Unix seconds
    failure: float | None        # the failure point: RUL(t) = failure - t
    end: float | None            # events: when the fault stops acting
    signal: str | None = None


def labels_for(faults: Sequence[Fault], *, run_id: str, start_time: float,
               speedup: float) -> list[Label]:
    """Wall-clock labels of ``faults`` for a run started at ``start_time``."""

    def wall(s: float | None) -> float | None:
        return None if s is None else round(start_time + s / speedup, 3)

    out = []
    for f in faults:
        # A collision or a stoppage is its own failure; the other events degrade nothing.
        failure_s = f.failure_s if f.kind not in EVENT_KINDS else (
            f.onset_s if f.kind in ("collision", "stoppage") else None)
        out.append(Label(run_id=run_id, robot=f.robot, component=f.component, kind=f.kind,
                         severity=f.severity, onset=round(start_time + f.onset_s / speedup, 3),
                         failure=wall(failure_s), end=wall(f.end_s), signal=f.signal))
    return out


def write_labels_file(path: str | Path, labels: Sequence[Label]) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text("".join(json.dumps(asdict(lb)) + "\n" for lb in labels), encoding="utf-8")
    tmp.replace(p)


def read_labels_file(path: str | Path) -> list[Label]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Label(**json.loads(line)) for line in lines if line.strip()]


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def to_storage(labels: Sequence[Label]) -> list[FaultLabel]:
    """The same labels as ``storage.ground_truth.FaultLabel`` rows."""
    return [
        FaultLabel(run_id=lb.run_id, robot=lb.robot, component=lb.component, kind=lb.kind,
                   onset_at=datetime.fromtimestamp(lb.onset, UTC),
                   failure_at=_dt(lb.failure), ended_at=_dt(lb.end), severity=lb.severity,
                   detail={"signal": lb.signal} if lb.signal else {})
        for lb in labels
    ]
