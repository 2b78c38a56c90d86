"""The life of a ticket (service rules section 4) as a strict python-statemachine machine, and
``apply_event``, which checks an event against it and persists the move with its history row.

::

    new --dispatch--> dispatched --accept--> accepted --start--> in_progress --resolve--> resolved
     ^                    |                                      |   ^                      |  |
     +------refuse--------+                      wait_customer   |   | resume      dispute  |  |
                                                                 v   |                      |  |
                                                           waiting_customer   in_progress <-+  |
                                                                                               |
                                         archived <--archive-- signed_off <--sign_off----------+

``extend_resolve`` (the policy's allowed extension, with a reason) keeps the state. Waiting
for the customer pauses the clocks: ``resume`` moves every deadline still ahead by the pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from storage import tickets as store
from ticketing.clocks import Deadlines, Pause, extended_resolve_by, paused_total, shifted
from ticketing.errors import (
    ConcurrentChange,
    EventRefused,
    MissingDetail,
    PolicyError,
    TicketNotFound,
)
from ticketing.policy import Policy

__all__ = ["TicketLifecycle", "STATES", "EVENTS", "HANDLING_REPORT_FIELDS", "check_event",
           "apply_event"]

# Service rules section 4: what a handling report must say before the customer is asked to
# sign off.
HANDLING_REPORT_FIELDS = ("process", "cause", "solution", "parts_used", "before_after")


def _require(name: str, value: Any) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MissingDetail(f"{name} is required")


class TicketLifecycle(StateMachine):
    """States and allowed events of a ticket. Details an event needs are checked by validators,
    so a refused detail leaves the ticket where it was."""

    new = State(initial=True)
    dispatched = State()
    accepted = State()
    in_progress = State()
    waiting_customer = State()
    resolved = State()
    signed_off = State()
    archived = State(final=True)

    dispatch = new.to(dispatched, validators="_needs_assignee")
    refuse = dispatched.to(new, validators="_needs_reason")
    accept = dispatched.to(accepted)
    start = accepted.to(in_progress)
    wait_customer = in_progress.to(waiting_customer, validators="_needs_reason")
    resume = waiting_customer.to(in_progress)
    resolve = in_progress.to(resolved, validators="_needs_report")
    dispute = resolved.to(in_progress, validators="_needs_reason")
    sign_off = resolved.to(signed_off)
    archive = signed_off.to(archived)
    extend_resolve = (
        accepted.to.itself(validators="_needs_reason")  # type: ignore[no-untyped-call]
        | in_progress.to.itself(validators="_needs_reason")  # type: ignore[no-untyped-call]
        | waiting_customer.to.itself(validators="_needs_reason")  # type: ignore[no-untyped-call]
    )

    def _needs_assignee(self, assignee: str | None = None, **_: Any) -> None:
        _require("assignee", assignee)

    def _needs_reason(self, reason: str | None = None, **_: Any) -> None:
        _require("reason", reason)

    def _needs_report(self, report: dict[str, Any] | None = None, **_: Any) -> None:
        if not isinstance(report, dict):
            raise MissingDetail(f"resolve needs a handling report with {HANDLING_REPORT_FIELDS}")
        missing = [f for f in HANDLING_REPORT_FIELDS if report.get(f) in (None, "", [])]
        if missing:
            raise MissingDetail(f"handling report lacks {', '.join(missing)}")


STATES = tuple(s.value for s in TicketLifecycle.states)
EVENTS = tuple(e.id for e in TicketLifecycle.events)  # type: ignore[attr-defined]


@dataclass(slots=True)
class _Snapshot:
    state: str


def check_event(*, state: str, event: str, **details: Any) -> str:
    """The state ``event`` leads to from ``state``; raises ``EventRefused`` or
    ``MissingDetail``. Pure: nothing is stored."""
    if state not in STATES:
        raise EventRefused(event=event, state=state)
    snap = _Snapshot(state=state)
    machine = TicketLifecycle(model=snap)
    try:
        machine.send(event, **details)
    except TransitionNotAllowed as exc:
        raise EventRefused(event=event, state=state) from exc
    return snap.state


def _pause_started(events: list[store.TicketEventRow]) -> datetime:
    for e in reversed(events):
        if e.to_state == "waiting_customer" and e.from_state != "waiting_customer":
            return e.at
    raise ConcurrentChange("ticket is waiting for the customer but its history has no pause")


def _pauses(events: list[store.TicketEventRow]) -> list[Pause]:
    out: list[Pause] = []
    for e in events:
        if e.to_state == "waiting_customer" and e.from_state != "waiting_customer":
            out.append(Pause(started_at=e.at, ended_at=None, reason=str(e.data.get("reason", ""))))
        elif e.from_state == "waiting_customer" and e.to_state != "waiting_customer" and out:
            out[-1] = Pause(started_at=out[-1].started_at, ended_at=e.at, reason=out[-1].reason)
    return out


def _deadlines(t: store.TicketRow) -> Deadlines:
    return Deadlines(respond_by=t.respond_by, onsite_by=t.onsite_by, plan_by=t.plan_by,
                     resolve_by=t.resolve_by, update_every=t.update_every)


def apply_event(
    *,
    conn: store.Conn,
    ticket_id: int,
    event: str,
    actor: str,
    at: datetime,
    policy: Policy,
    reason: str | None = None,
    assignee: str | None = None,
    report: dict[str, Any] | None = None,
) -> store.TicketRow:
    """Apply ``event`` to a ticket: check it, set what it changes (assignee, milestones,
    deadlines) and append the history row, all in one transaction."""
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    with store.atomic(conn=conn):
        ticket = store.get_ticket(conn=conn, ticket_id=ticket_id)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        to_state = check_event(state=ticket.state, event=event, reason=reason,
                               assignee=assignee, report=report)
        changes: dict[str, Any] = {}
        data: dict[str, Any] = {k: v for k, v in
                                (("reason", reason), ("assignee", assignee), ("report", report))
                                if v is not None}
        if event == "dispatch":
            engineer_id = store.engineer_id(conn=conn, code=assignee or "")
            if engineer_id is None:
                raise MissingDetail(f"no engineer {assignee!r}")
            changes["assignee_id"] = engineer_id
        elif event == "refuse":
            changes["assignee_id"] = None
            data["refused_by"] = ticket.assignee
        elif event == "accept" and ticket.responded_at is None:
            changes["responded_at"] = at
        elif event == "resume":
            paused_at = _pause_started(store.ticket_events(conn=conn, ticket_id=ticket_id))
            moved = shifted(_deadlines(ticket), by=at - paused_at, paused_at=paused_at)
            changes.update(respond_by=moved.respond_by, onsite_by=moved.onsite_by,
                           plan_by=moved.plan_by, resolve_by=moved.resolve_by)
            data["paused"] = str(at - paused_at)
        elif event == "resolve":
            changes["resolved_at"] = at
        elif event == "dispute":
            changes["resolved_at"] = None
        elif event == "sign_off":
            changes["closed_at"] = at
        elif event == "extend_resolve":
            if ticket.policy != policy.label:
                raise PolicyError(f"ticket {ticket.number} was graded under {ticket.policy}, "
                                  f"not {policy.label}")
            clock = policy.clock_for(grade=ticket.grade, tier=ticket.tier)
            paused = paused_total(_pauses(store.ticket_events(conn=conn, ticket_id=ticket_id)),
                                  now=at)
            changes["resolve_by"] = extended_resolve_by(
                clock=clock, accepted_at=ticket.created_at, paused=paused, reason=reason or "")
            data["resolve_by"] = changes["resolve_by"].isoformat()
        row = store.transition(conn=conn, ticket_id=ticket_id, from_state=ticket.state,
                               to_state=to_state, event=event, actor=actor, at=at, data=data,
                               changes=changes)
        if row is None:
            raise ConcurrentChange(f"ticket {ticket.number} left state {ticket.state!r} meanwhile")
    return row
