"""The acts on one inspection work order: start, complete (checklist results and findings; a
corrective finding opens an anomaly that ticketing turns into a ticket), cancel.

Each goes through :func:`maintenance.lifecycle.check_event` and appends an
``inspection_events`` row in the same transaction as the state change; completing or
cancelling closes the overdue clock (:mod:`maintenance.timers`), and cancelling gives the
reserved parts back (:mod:`maintenance.reserve`). Used by the CLI and the API alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from maintenance import reserve, timers
from maintenance.errors import MissingDetail, UnknownInspection
from maintenance.lifecycle import check_event
from storage import maintenance as store
from storage.anomalies import IMPACT_CLASSES, NewAnomaly, open_anomaly
from storage.tickets import Conn, atomic

__all__ = ["start", "complete", "cancel", "FINDING_DETECTOR"]

# The detector name of the anomalies a corrective finding opens: ticketing's intake turns them
# into graded tickets like any other anomaly, so maintenance never calls ticketing's writers.
FINDING_DETECTOR = "inspection"


def _event(conn: Conn, inspection_id: int, event: str, *, actor: str, now: datetime,
           data: dict[str, Any], **details: Any) -> tuple[store.InspectionRow, str]:
    row = store.get_inspection(conn=conn, inspection_id=inspection_id, lock=True)
    if row is None:
        raise UnknownInspection(f"no inspection {inspection_id}")
    to = check_event(state=row.state, event=event, **details)
    store.add_inspection_event(conn=conn, inspection_id=row.id, event=event,
                               from_state=row.state, to_state=to, actor=actor, at=now, data=data)
    return row, to


def start(*, conn: Conn, inspection_id: int, actor: str, now: datetime) -> None:
    with atomic(conn=conn):
        row, to = _event(conn, inspection_id, "start", actor=actor, now=now, data={})
        store.update_inspection(conn=conn, inspection_id=row.id, expected_version=row.version,
                                state=to)


def _check_findings(findings: Sequence[dict[str, Any]]) -> None:
    for f in findings:
        if not isinstance(f, dict) or not str(f.get("note", "")).strip():
            raise MissingDetail("each finding needs a 'note'")
        if f.get("corrective") and f.get("impact", "non-core") not in IMPACT_CLASSES:
            raise MissingDetail(f"a corrective finding's impact is one of {IMPACT_CLASSES}")


def complete(*, conn: Conn, inspection_id: int, results: dict[str, Any],
             findings: Sequence[dict[str, Any]], counters: dict[str, float], actor: str,
             now: datetime) -> store.InspectionRow:
    """Record the checklist results and findings; a finding marked ``corrective`` opens an
    anomaly (detector ``inspection``) that ticketing turns into a ticket. Counters and due
    dates restart from ``now``: the next plan counts from this completion."""
    _check_findings(findings)
    with atomic(conn=conn):
        row, to = _event(conn, inspection_id, "complete", actor=actor, now=now,
                         data={"findings": len(findings)}, results=results)
        anomaly_id = None
        for f in findings:
            if not f.get("corrective"):
                continue
            anomaly_id = open_anomaly(conn=conn, anomaly=NewAnomaly(
                robot_id=row.robot_id, component=str(f.get("component", "robot")),
                kind=str(f.get("kind", "inspection_finding")), detector=FINDING_DETECTOR,
                impact=str(f.get("impact", "non-core")), started_at=now,
                evidence={"inspection_id": row.id, "plan": row.plan, "note": f["note"]}))
        store.update_inspection(conn=conn, inspection_id=row.id, expected_version=row.version,
                                state=to, results=results, findings=list(findings),
                                counters=counters, completed_at=now, anomaly_id=anomaly_id)
        timers.disarm(conn, inspection_id=row.id, now=now, why="met")
    done = store.get_inspection(conn=conn, inspection_id=inspection_id)
    if done is None:
        raise UnknownInspection(f"inspection {inspection_id} vanished after completion")
    return done


def cancel(*, conn: Conn, inspection_id: int, reason: str, actor: str,
           now: datetime) -> store.InspectionRow:
    """Cancel a work order not started yet (``reason`` required): its clock stops and its
    reserved parts go back on the shelf."""
    with atomic(conn=conn):
        row, to = _event(conn, inspection_id, "cancel", actor=actor, now=now,
                         data={"reason": reason}, reason=reason)
        store.update_inspection(conn=conn, inspection_id=row.id, expected_version=row.version,
                                state=to)
        timers.disarm(conn, inspection_id=row.id, now=now, why="cancelled")
        reserve.release(conn, row, reason=f"cancelled: {reason}", actor=actor, now=now)
    done = store.get_inspection(conn=conn, inspection_id=inspection_id)
    if done is None:
        raise UnknownInspection(f"inspection {inspection_id} vanished after cancelling")
    return done
