"""An overdue inspection escalates like an SLA breach, from database timers.

Each open work order has one clock run in the ticket clock rows (owner ``inspection_id``,
``storage.inspection_timers``): a warning ``[overdue] warn_before_h`` before its due date and
the breach ``scheduling.overdue_escalate_h`` after it. The breach climbs the service policy's
escalation ladder (``[escalation] steps`` of the ticketing policy: level, to whom, after how
long), each rung a timer of its own. Moving the due date re-arms the clock; completing or
cancelling the work order closes it and drops what has not fired.

:func:`fire_due_inspections` is one pass, fired by the ticketing timer loop
(``ticketing.timers.run_timers``, ``also=``) through :func:`inspection_pass`, so there is one
scheduler: due timers are locked with their inspections ``FOR UPDATE SKIP LOCKED``, each fires
in a savepoint with its ``inspection_events`` row and ``fired_at``, so a restart loses none and
fires none twice. History rows use the tickets' names (``clock_warning``, ``clock_breached``,
``escalation`` with ``data.level``, ``to``, ``role``), so the notification routes and the
console read them alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from maintenance.errors import MaintenanceError
from maintenance.lifecycle import check_event
from maintenance.policy import MaintenancePolicy
from storage import inspection_timers as itstore
from storage import maintenance as store
from storage import timers as tstore
from storage.tickets import Conn, atomic
from ticketing.policy import EscalationStep, Policy

__all__ = ["WARNING", "BREACH", "ESCALATION", "SYSTEM", "FiredInspectionTimer", "arm", "disarm",
           "fire_due_inspections", "inspection_pass"]

log = logging.getLogger(__name__)

# The ticket history's names (ticketing.timers), so one set of routes serves both.
WARNING, BREACH, ESCALATION = "clock_warning", "clock_breached", "escalation"
SYSTEM = "system"
# A timer that failed to fire is retried this much later (ticketing.timers.RETRY_AFTER).
RETRY_AFTER = timedelta(minutes=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class FiredInspectionTimer:
    timer_id: int
    inspection_id: int
    robot: str
    action: str
    step: int
    due_at: datetime
    event: str


def arm(conn: Conn, *, policy: MaintenancePolicy, inspection_id: int, due_at: datetime,
        now: datetime) -> int:
    """(Re)start the inspection's clock for ``due_at``: an open run is closed as replaced
    (its unfired timers dropped); the new run's id."""
    disarm(conn, inspection_id=inspection_id, now=now, why="replaced")
    breach_at = due_at + timedelta(hours=policy.scheduling.overdue_escalate_h)
    warn_at = due_at - timedelta(hours=policy.overdue.warn_before_h)
    timers = [tstore.NewTimer(action="breach", due_at=breach_at, calendar="24x7")]
    if warn_at > now:
        timers.insert(0, tstore.NewTimer(action="warn", due_at=warn_at, calendar="24x7"))
    return itstore.start_inspection_clock(
        conn=conn, inspection_id=inspection_id, started_at=now,
        allowed=max(breach_at - now, timedelta(0)), due_at=breach_at, timers=timers)


def disarm(conn: Conn, *, inspection_id: int, now: datetime, why: str) -> None:
    """Close the inspection's open clock (``met``, ``cancelled``, ``replaced``)."""
    for run in itstore.open_inspection_clocks(conn=conn, inspection_id=inspection_id):
        tstore.close_clock(conn=conn, clock_id=run.id, at=now, why=why)


def _ladder(steps: Sequence[EscalationStep], breach_at: datetime) -> list[tstore.NewTimer]:
    # Each rung ``after`` the previous one, the first after the breach. Counted round the
    # clock: an overdue inspection is a plan already late, not a working-hours promise.
    out, at = [], breach_at
    for s in steps:
        at = at + s.after
        out.append(tstore.NewTimer(action="escalate", due_at=at, calendar="24x7", step=s.level,
                                   detail={"to": s.to, "role": s.role}))
    return out


def _fire_one(conn: Conn, d: itstore.DueInspectionTimer, *, now: datetime,
              steps: Sequence[EscalationStep]) -> FiredInspectionTimer:
    row = store.get_inspection(conn=conn, inspection_id=d.inspection_id)
    if row is None:
        raise LookupError(f"timer {d.id} points at a missing inspection")
    data: dict[str, object] = {"clock": itstore.CLOCK, "due_at": d.due_at.isoformat(),
                               "timer_id": d.id, "clock_id": d.clock_id,
                               "inspection_due_at": row.due_at.isoformat(), "plan": row.plan,
                               "robot": row.robot, "engineer": row.engineer}
    if d.action == "warn":
        tstore.mark_warned(conn=conn, clock_id=d.clock_id, at=now)
        event, to = WARNING, row.state
    elif d.action == "breach":
        tstore.mark_breached(conn=conn, clock_id=d.clock_id, at=d.due_at)
        itstore.add_inspection_timers(conn=conn, inspection_id=row.id, clock_id=d.clock_id,
                                      timers=_ladder(steps, d.due_at))
        event, to = BREACH, row.state
    else:
        why = f"overdue: due {row.due_at:%Y-%m-%d %H:%M}, still {row.state}"
        to = check_event(state=row.state, event="escalate", reason=why)
        data.update(level=d.step, reason=why, **d.detail)
        if not store.update_inspection(conn=conn, inspection_id=row.id,
                                       expected_version=row.version, state=to,
                                       escalated_at=row.escalated_at or now):
            raise LookupError(f"inspection {row.id} changed under its lock")
        event = ESCALATION
    store.add_inspection_event(conn=conn, inspection_id=row.id, event=event,
                               from_state=row.state, to_state=to, actor=SYSTEM, at=now,
                               data=data)
    return FiredInspectionTimer(timer_id=d.id, inspection_id=row.id, robot=row.robot,
                                action=d.action, step=d.step, due_at=d.due_at, event=event)


def fire_due_inspections(*, conn: Conn, now: datetime, steps: Sequence[EscalationStep],
                         limit: int = 500) -> list[FiredInspectionTimer]:
    """Fire up to ``limit`` inspection timers due at ``now``, earliest first, in one
    transaction; what fired. ``steps`` is the escalation ladder a breach starts."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    with atomic(conn=conn):
        return tstore.fire_each(
            conn=conn, due=itstore.claim_due_inspection_timers(conn=conn, now=now, limit=limit),
            now=now, fire=lambda d: _fire_one(conn, d, now=now, steps=steps),
            errors=(MaintenanceError,), log=log, retry_after=RETRY_AFTER,
            describe=lambda d: (f"inspection timer {d.id} ({d.action} of inspection "
                                f"{d.inspection_id}, due {d.due_at.isoformat()})"))


def inspection_pass(conn: Conn, now: datetime, policy: Policy) -> int:
    """One pass for ``ticketing.timers.run_timers(also=...)``: fire with the service policy's
    ladder, log, count."""
    fired = fire_due_inspections(conn=conn, now=now, steps=policy.escalation.steps)
    for f in fired:
        log.log(logging.INFO if f.event == WARNING else logging.WARNING,
                "inspection %s of %s: %s (%s, level %s)", f.inspection_id, f.robot, f.event,
                f.action, f.step or "-")
    return len(fired)
