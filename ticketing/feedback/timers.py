"""Timers of feedback records, fired from the same rows and the same loop as the tickets'
(``ticketing.timers.run_timers``): a warning at the policy's share of the allowed time, the
breach at the deadline, then the escalation ladder for the clocks ``[feedback] escalates``.

One pass is one transaction: due timers are locked with their records (``FOR UPDATE SKIP
LOCKED``), each fires in a savepoint with its history row (actor ``system``) and ``fired_at``;
a failing one is logged and postponed, and costs the others nothing.

History rows written here: ``clock_warning``, ``clock_breached``, ``escalation`` (``data.level``,
``to``, ``role``), each with ``data.clock``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from storage import feedback as fstore
from storage import timers as tstore
from storage.tickets import Conn, atomic
from ticketing.errors import TicketingError
from ticketing.policy import Policy, format_duration
from ticketing.timers import BREACH, ESCALATION, RETRY_AFTER, WARNING

__all__ = ["FiredFeedbackTimer", "fire_due_feedback", "feedback_pass"]

log = logging.getLogger(__name__)
SYSTEM = "system"


@dataclass(frozen=True, slots=True, kw_only=True)
class FiredFeedbackTimer:
    timer_id: int
    feedback_id: int
    number: str
    clock: str
    action: str
    due_at: datetime
    event: str


def _fire_one(conn: Conn, d: tstore.DueFeedbackTimer, *, now: datetime,
              policy: Policy) -> FiredFeedbackTimer:
    rec = fstore.get_feedback(conn=conn, feedback_id=d.feedback_id)
    run = tstore.get_clock(conn=conn, clock_id=d.clock_id)
    if rec is None or run is None:
        raise LookupError(f"timer {d.id} points at a missing feedback record or clock")
    data = {"clock": d.clock, "due_at": d.due_at.isoformat(), "timer_id": d.id,
            "clock_id": run.id, "allowed": format_duration(run.allowed)}
    if d.action == "warn":
        tstore.mark_warned(conn=conn, clock_id=run.id, at=now)
        event = WARNING
        fstore.add_feedback_event(conn=conn, feedback_id=rec.id, at=now, event=event,
                                  actor=SYSTEM, state=rec.state,
                                  data={**data, "share": policy.timers.warn_share})
    elif d.action == "escalate":
        event = ESCALATION
        row = fstore.transition_feedback(
            conn=conn, feedback_id=rec.id, from_state=rec.state, to_state=rec.state,
            event=event, actor=SYSTEM, at=now, data={**data, "level": d.step, **d.detail},
            changes={"escalation": max(rec.escalation, d.step)}, expected_version=rec.version)
        if row is None:
            raise LookupError(f"feedback {rec.number} changed under its lock")
    else:
        tstore.mark_breached(conn=conn, clock_id=run.id, at=d.due_at)
        event = BREACH
        fstore.add_feedback_event(conn=conn, feedback_id=rec.id, at=now, event=event,
                                  actor=SYSTEM, state=rec.state, data=data)
    return FiredFeedbackTimer(timer_id=d.id, feedback_id=rec.id, number=rec.number,
                              clock=d.clock, action=d.action, due_at=d.due_at, event=event)


def fire_due_feedback(
    *, conn: Conn, now: datetime, policy: Policy, limit: int = 500
) -> list[FiredFeedbackTimer]:
    """Fire up to ``limit`` feedback timers due at ``now``, earliest first, in one
    transaction; what fired."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    with atomic(conn=conn):
        return tstore.fire_each(
            conn=conn, due=tstore.claim_due_feedback(conn=conn, now=now, limit=limit), now=now,
            fire=lambda d: _fire_one(conn, d, now=now, policy=policy), errors=(TicketingError,),
            log=log, retry_after=RETRY_AFTER,
            describe=lambda d: (f"feedback timer {d.id} ({d.clock} {d.action} of feedback "
                                f"{d.feedback_id}, due {d.due_at.isoformat()})"))


def feedback_pass(conn: Conn, now: datetime, policy: Policy) -> int:
    """One pass for ``ticketing.timers.run_timers``: fire, log, count."""
    fired = fire_due_feedback(conn=conn, now=now, policy=policy)
    for f in fired:
        log.info("feedback %s: %s %s (%s)", f.number, f.clock, f.action, f.event)
    return len(fired)
