"""Feedback records and complaints: registration and every event, checked against the
lifecycle (``ticketing.feedback.lifecycle``), recorded with actor and time, and their clocks
kept in step, in one transaction with one history row. Like tickets, a person's event names
the version they saw and is refused with ``ConcurrentChange`` if the record moved on.

Which event does what to which clock (policy ``[feedback]``):

==================  ==================================================================
registered          feedback: starts plan and (urgent, general) solve; complaint:
                    respond and answer. Late registration is flagged, not refused.
route, reroute      starts (again) the department's confirm
confirm             meets confirm
respond             meets respond (a complaint's first response)
submit_plan         meets plan; a complex item starts its progress-report cadence
rectify             meets plan (a rectification starts from a plan)
send_progress       meets update and starts the next one
approve_extension   moves the extended clock to the new date (the customer is told)
complete            meets solve, answer, respond, plan; closes the rest; starts tell and,
                    for major and complex items, revisit
tell_result         meets tell
revisit             meets revisit (not before ``revisit_after``)
archive             only once told and, if owed, revisited
==================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from storage import feedback as fstore
from storage import timers as tstore
from storage.tickets import Conn, atomic
from ticketing import clocks
from ticketing.calendar import Calendar
from ticketing.deadlines import calendars_of, new_timers
from ticketing.errors import ConcurrentChange, EventRefused, MissingDetail, TicketNotFound
from ticketing.feedback import rules as R
from ticketing.feedback.lifecycle import FEEDBACK_EVENTS, check_feedback_event
from ticketing.policy import Policy

__all__ = ["register", "apply", "FeedbackBook"]

_ZERO = timedelta(0)
CHANNELS = ("phone", "email", "chat", "wechat", "on_site", "callback", "letter", "meeting")


def _aware(name: str, t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


class FeedbackBook:
    """One record's clocks during one event (the feedback side of ``deadlines._Book``)."""

    def __init__(self, conn: Conn, record: fstore.FeedbackRow, policy: Policy,
                 at: datetime) -> None:
        self.conn, self.record, self.policy, self.at = conn, record, policy, at
        self.cal: Callable[[str], Calendar] = calendars_of(policy=policy, tz=record.timezone)
        self.open = {c.clock: c for c in tstore.open_clocks(conn=conn, feedback_id=record.id)}

    def start(self, spec: clocks.ClockSpec, *, spent: timedelta = _ZERO,
              started_at: datetime | None = None) -> datetime:
        plan = clocks.plan_clock(spec, now=self.at, spent=spent, policy=self.policy,
                                 calendars=self.cal)
        clock_id = tstore.start_clock(
            conn=self.conn, feedback_id=self.record.id, clock=spec.name,
            calendar=spec.calendar, started_at=started_at or self.at, allowed=spec.allowed,
            due_at=plan.due_at, timers=new_timers(plan))
        run = tstore.get_clock(conn=self.conn, clock_id=clock_id)
        assert run is not None  # inserted just now, in this transaction
        self.open[spec.name] = run
        return plan.due_at

    def meet(self, *names: str) -> None:
        for name in names:
            run = self.open.pop(name, None)
            if run is not None:
                tstore.close_clock(conn=self.conn, clock_id=run.id, at=self.at, why="met",
                                   drop_due_timers=False)

    def close(self, name: str, why: str) -> None:
        run = self.open.pop(name, None)
        if run is not None:
            tstore.close_clock(conn=self.conn, clock_id=run.id, at=self.at, why=why)

    def close_all(self, why: str) -> None:
        for name in list(self.open):
            self.close(name, why)

    def move(self, name: str, new_due: datetime) -> None:
        """The same clock, same start, a new deadline (an approved extension)."""
        run = self.open.pop(name)
        cal = self.cal(run.calendar)
        allowed = cal.elapsed(run.started_at, new_due)
        spent = cal.elapsed(run.started_at, self.at)
        tstore.close_clock(conn=self.conn, clock_id=run.id, at=self.at, why="replaced")
        spec = clocks.ClockSpec(name=run.clock, allowed=allowed,  # type: ignore[arg-type]
                                calendar=run.calendar,  # type: ignore[arg-type]
                                escalates=run.clock in R.rules_of(self.policy).escalates)
        self.start(spec, spent=spent, started_at=run.started_at)


def register(
    *, conn: Conn, kind: str, customer: str, category: str, urgency: str, channel: str,
    reporter: str, summary: str, received_at: datetime, now: datetime, actor: str,
    policy: Policy, major: bool = False, ticket_id: int | None = None,
) -> fstore.FeedbackRow:
    """Record a customer's feedback or complaint with a unique number and start its clocks.
    Registration later than the policy's ``register_within`` is recorded and flagged."""
    _aware("now", now)
    _aware("received_at", received_at)
    rules = R.rules_of(policy)
    R.check_vocabulary(kind=kind, category=category, urgency=urgency)
    if channel not in CHANNELS:
        raise MissingDetail(f"channel must be one of {CHANNELS}, got {channel!r}")
    for name, value in (("reporter", reporter), ("summary", summary), ("actor", actor)):
        if not isinstance(value, str) or not value.strip():
            raise MissingDetail(f"a feedback needs its {name}")
    place = fstore.customer_place(conn=conn, code=customer)
    if place is None:
        raise MissingDetail(f"no customer {customer!r}")
    cal = calendars_of(policy=policy, tz=place.timezone)
    late = R.registered_late(rules, cal, received_at=received_at, registered_at=now)
    with atomic(conn=conn):
        row = fstore.create_feedback(conn=conn, new=fstore.NewFeedback(
            kind=kind, customer_id=place.id, category=category, urgency=urgency,
            channel=channel, reporter=reporter.strip(), summary=summary.strip(),
            received_at=received_at, registered_at=now, registered_late=late,
            timezone=place.timezone, policy=policy.label, major=major, ticket_id=ticket_id,
        ), actor=actor, data={"registered_late": late, "category": category,
                              "urgency": urgency, "kind": kind})
        book = FeedbackBook(conn, row, policy, now)
        for spec in R.opening_clocks(rules, kind=kind, urgency=urgency):
            book.start(spec)
    return row


def _extension(
    book: FeedbackBook, event: str, actor: str, details: dict[str, Any]
) -> dict[str, Any]:
    conn, rec, rules = book.conn, book.record, R.rules_of(book.policy)
    pending = fstore.pending_extension(conn=conn, feedback_id=rec.id)
    if event == "request_extension":
        if pending is not None:
            raise EventRefused(event=event, state=rec.state,
                               why=f"extension {pending.id} is still waiting for a decision")
        name = str(details.get("clock") or R.target_clock(list(book.open)))
        run = book.open.get(name)
        if run is None or run.due_at is None:
            raise MissingDetail(f"no running {name!r} deadline to extend")
        R.check_extension(rules, book.cal, now=book.at, due=run.due_at,
                          new_due=details["new_due"])
        ext = fstore.ask_extension(conn=conn, feedback_id=rec.id, clock=name, at=book.at,
                                   by=actor, reason=str(details["reason"]), old_due=run.due_at,
                                   new_due=details["new_due"])
        return {"extension_id": ext.id, "clock": name, "old_due": run.due_at.isoformat(),
                "new_due": ext.new_due.isoformat()}
    if pending is None:
        raise EventRefused(event=event, state=rec.state, why="no extension is waiting")
    approved = event == "approve_extension"
    fstore.decide_extension(conn=conn, extension_id=pending.id, at=book.at, by=actor,
                            approved=approved, notice=str(details["notice"]))
    if approved and pending.clock in book.open:
        book.move(pending.clock, pending.new_due)
    return {"extension_id": pending.id, "clock": pending.clock, "approved": approved,
            "new_due": pending.new_due.isoformat(), "customer_told": True}


def _effects(
    book: FeedbackBook, event: str, actor: str, details: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record's columns ``event`` changes, and what its history row adds."""
    rec, at, rules = book.record, book.at, R.rules_of(book.policy)
    changes: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if event in ("route", "reroute"):
        changes["department"] = details["department"]
        book.close("confirm", "reassigned")  # a new department confirms afresh
        book.start(R.spec_of(rules, "confirm", rules.confirm_within))
    elif event == "confirm":
        changes["confirmed_at"] = at
        book.meet("confirm")
    elif event == "respond":
        changes["responded_at"] = rec.responded_at or at
        book.meet("respond")
    elif event in ("submit_plan", "rectify"):
        changes["plan_at"] = rec.plan_at or at
        book.meet("plan")
        cadence = rules.urgency[rec.urgency].update_every  # type: ignore[index]
        if cadence is not None and rec.kind == "feedback" and "update" not in book.open:
            book.start(R.spec_of(rules, "update", cadence))
    elif event == "send_progress":
        book.meet("update")
        cadence = rules.urgency[rec.urgency].update_every  # type: ignore[index]
        if cadence is not None:
            book.start(R.spec_of(rules, "update", cadence))
    elif event in ("request_extension", "approve_extension", "reject_extension"):
        data = _extension(book, event, actor, details)
    elif event == "complete":
        changes.update(completed_at=at, result=details["result"],
                       responded_at=rec.responded_at or at)
        book.meet("solve", "answer", "respond", "plan")
        book.close_all("moot")
        book.start(R.spec_of(rules, "tell", rules.tell_within))
        if R.needs_revisit(rules, urgency=rec.urgency, major=rec.major):
            changes["revisit_due"] = True
            book.start(R.spec_of(rules, "revisit", rules.revisit_within))
    elif event == "tell_result":
        changes["told_at"] = rec.told_at or at
        book.meet("tell")
    elif event == "revisit":
        if not rec.revisit_due:
            raise EventRefused(event=event, state=rec.state, why="no revisit is owed")
        assert rec.completed_at is not None  # completed is the only state allowing revisit
        earliest = rec.completed_at + rules.revisit_after
        if at < earliest:
            raise EventRefused(event=event, state=rec.state,
                               why=f"a revisit comes {rules.revisit_after} after completion, "
                                   f"not before {earliest.isoformat()}")
        changes["revisited_at"] = at
        book.meet("revisit")
    elif event == "archive":
        if rec.told_at is None:
            raise EventRefused(event=event, state=rec.state,
                               why="the result has not been told to the customer")
        if rec.revisit_due and rec.revisited_at is None:
            raise EventRefused(event=event, state=rec.state, why="the revisit is still owed")
        book.close_all("moot")
    return changes, data


def apply(
    *, conn: Conn, feedback_id: int, event: str, actor: str, expected_version: int | None,
    now: datetime, policy: Policy, **details: Any,
) -> fstore.FeedbackRow:
    """Apply ``event`` to a feedback record as ``actor`` at ``now``; the record afterwards.
    Raises ``TicketNotFound`` (no such record), ``ConcurrentChange``, ``EventRefused`` or
    ``MissingDetail``; nothing is written when it raises."""
    _aware("now", now)
    if not actor or not actor.strip():
        raise MissingDetail("every event needs its actor")
    if event not in FEEDBACK_EVENTS:
        raise EventRefused(event=event, state="?", why=f"unknown event; known: {FEEDBACK_EVENTS}")
    rules = R.rules_of(policy)
    with atomic(conn=conn):
        rec = fstore.lock_feedback(conn=conn, feedback_id=feedback_id)
        if rec is None:
            raise TicketNotFound(f"no feedback {feedback_id}")
        if expected_version is not None and rec.version != expected_version:
            raise ConcurrentChange(ticket=rec.number, expected=expected_version,
                                   state=rec.state, version=rec.version)
        if event == "route" and not details.get("department"):
            details["department"] = R.department_for(rules, rec.category)
        to_state = check_feedback_event(state=rec.state, event=event, **details)
        book = FeedbackBook(conn, rec, policy, now)
        changes, data = _effects(book, event, actor, details)
        record = {k: (v.isoformat() if isinstance(v, datetime) else v)
                  for k, v in details.items() if v is not None}
        row = fstore.transition_feedback(
            conn=conn, feedback_id=rec.id, from_state=rec.state, to_state=to_state,
            event=event, actor=actor, at=now, data={**record, **data}, changes=changes,
            expected_version=rec.version)
        if row is None:  # cannot happen under the row lock; refuse rather than overwrite
            raise ConcurrentChange(ticket=rec.number, expected=expected_version,
                                   state=rec.state, version=rec.version)
    return row
