"""The life of a ticket (service rules section 4) as a strict python-statemachine machine.

::

    new --dispatch--> dispatched --accept--> accepted --start_remote--------> in_progress
     ^                 |  ^   |                 |                               ^   |  ^
     +----refuse-------+  |   +--reassign--+    +--start_travel--> travelling --arrive
                          +----------------+         wait_customer |  ^ resume  |  |
                          (reassign also from accepted,            v  |         |  |
                           travelling, in_progress)        waiting_customer     |  |
                                                                  resolve ------+  |
                                                                     v             |
           archived <--archive-- signed_off <--sign_off-- resolved --dispute-------+
                                     |                        |      reopen (both) |
                                     +----------reopen--------+--------------------+

    any open state before resolved --cancel--> cancelled;  --merge--> merged

Self-transitions keep the state and are checked like the others: ``regrade``,
``extend_resolve``, ``submit_plan``, ``send_update``. The machine only knows states and the
details an event needs (validators); ``ticketing.events.apply`` stores the move, its clocks
and its history row. The class is checked at import for unreachable and trap states.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from ticketing.errors import EventRefused, MissingDetail
from ticketing.policy import GRADES

__all__ = ["TicketLifecycle", "STATES", "EVENTS", "OPEN_STATES", "HANDLING_REPORT_FIELDS",
           "check_event", "require_detail", "into", "stay", "next_state"]

# Service rules section 4: what a handling report must say before the customer is asked to
# sign off.
HANDLING_REPORT_FIELDS = ("process", "cause", "solution", "parts_used", "before_after")


def require_detail(name: str, value: Any) -> None:
    """Refuse a missing or blank detail (every lifecycle's validators share it)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MissingDetail(f"{name} is required")


def into(target: State, sources: tuple[State, ...], validators: str | list[str]) -> Any:
    """One event leading from each of ``sources`` to ``target``."""
    out = sources[0].to(target, validators=validators)
    for src in sources[1:]:
        out = out | src.to(target, validators=validators)
    return out


def stay(states: tuple[State, ...], validators: str | list[str]) -> Any:
    """One event that keeps the state, allowed in each of ``states``."""
    out = states[0].to.itself(validators=validators)  # type: ignore[no-untyped-call]
    for st in states[1:]:
        out = out | st.to.itself(validators=validators)  # type: ignore[no-untyped-call]
    return out


# The names the class body below was written with.
_require, _into, _stay = require_detail, into, stay


class TicketLifecycle(StateMachine):
    """States and allowed events of a ticket. Details an event needs are checked by validators,
    so a refused detail leaves the ticket where it was."""

    new = State(initial=True)
    dispatched = State()
    accepted = State()
    travelling = State()
    in_progress = State()
    waiting_customer = State()
    resolved = State()
    signed_off = State()
    archived = State(final=True)
    cancelled = State(final=True)
    merged = State(final=True)

    dispatch = new.to(dispatched, validators="_needs_assignee")
    refuse = dispatched.to(new, validators="_needs_reason")
    reassign = (dispatched.to.itself(validators=["_needs_assignee", "_needs_reason"])  # type: ignore[no-untyped-call]
                | _into(dispatched, (accepted, travelling, in_progress),
                        ["_needs_assignee", "_needs_reason"]))
    accept = dispatched.to(accepted)
    start_remote = accepted.to(in_progress)
    start_travel = accepted.to(travelling)
    arrive = travelling.to(in_progress)
    wait_customer = in_progress.to(waiting_customer, validators="_needs_reason")
    resume = waiting_customer.to(in_progress)
    resolve = in_progress.to(resolved, validators="_needs_report")
    dispute = resolved.to(in_progress, validators="_needs_reason")
    sign_off = resolved.to(signed_off)
    reopen = _into(in_progress, (resolved, signed_off), "_needs_reason")
    archive = signed_off.to(archived)
    cancel = _into(cancelled, (new, dispatched, accepted, travelling, in_progress,
                               waiting_customer), "_needs_reason")
    merge = _into(merged, (new, dispatched, accepted, travelling, in_progress, waiting_customer),
                  "_needs_target")
    regrade = _stay((new, dispatched, accepted, travelling, in_progress, waiting_customer),
                    "_needs_grade")
    extend_resolve = _stay((accepted, travelling, in_progress, waiting_customer), "_needs_reason")
    submit_plan = _stay((accepted, travelling, in_progress), "_needs_plan")
    send_update = _stay((dispatched, accepted, travelling, in_progress, waiting_customer,
                         resolved), "_needs_message")

    def _needs_assignee(self, assignee: str | None = None, **_: Any) -> None:
        _require("assignee", assignee)

    def _needs_reason(self, reason: str | None = None, **_: Any) -> None:
        _require("reason", reason)

    def _needs_plan(self, plan: str | None = None, **_: Any) -> None:
        _require("plan", plan)

    def _needs_message(self, message: str | None = None, **_: Any) -> None:
        _require("message", message)

    def _needs_target(self, into: int | None = None, **_: Any) -> None:
        if not isinstance(into, int) or isinstance(into, bool):
            raise MissingDetail("merge needs the ticket id to merge into ('into')")

    def _needs_grade(self, grade: str | None = None, reason: str | None = None,
                     **_: Any) -> None:
        if grade not in GRADES:
            raise MissingDetail(f"regrade needs a grade, one of {GRADES}; got {grade!r}")
        _require("reason", reason)

    def _needs_report(self, report: dict[str, Any] | None = None, **_: Any) -> None:
        if not isinstance(report, dict):
            raise MissingDetail(f"resolve needs a handling report with {HANDLING_REPORT_FIELDS}")
        missing = [f for f in HANDLING_REPORT_FIELDS if report.get(f) in (None, "", [])]
        if missing:
            raise MissingDetail(f"handling report lacks {', '.join(missing)}")


STATES = tuple(s.value for s in TicketLifecycle.states)
EVENTS = tuple(e.id for e in TicketLifecycle.events)  # type: ignore[attr-defined]
# Before the work is resolved: cancel, merge and regrade are allowed here.
OPEN_STATES = ("new", "dispatched", "accepted", "travelling", "in_progress", "waiting_customer")


@dataclass(slots=True)
class _Snapshot:
    state: str


# Building a machine costs ~7 ms of CPU (python-statemachine 3.2 registers every callback per
# instance; measured on the path anomaly -> dispatch, where it was the largest Python cost), so
# each thread keeps one per lifecycle and moves it to the state asked about. One that raised
# or reached a final state is dropped: its engine may keep that (a terminated machine refuses
# everything after), and tests/ticketing/test_lifecycle.py checks the answers equal a fresh
# machine's for every state, event and detail.
_machines = threading.local()


def next_state(machine: type[StateMachine], *, state: str, event: str, **details: Any) -> str:
    """The state ``event`` leads to from ``state`` in ``machine`` (any of the package's
    lifecycles); raises ``EventRefused`` or ``MissingDetail``. Pure: nothing is stored."""
    kept: dict[type[StateMachine], tuple[StateMachine, _Snapshot]] = getattr(
        _machines, "kept", None) or {}
    _machines.kept = kept
    m, snap = kept.pop(machine, (None, None))
    if m is None or snap is None:
        snap = _Snapshot(state=state)
        m = machine(model=snap)
    else:
        m.current_state_value = state
    try:
        m.send(event, **details)
    except TransitionNotAllowed as exc:
        raise EventRefused(event=event, state=state) from exc
    if not any(s.final and s.value == snap.state for s in machine.states):
        kept[machine] = (m, snap)
    return snap.state


def check_event(*, state: str, event: str, **details: Any) -> str:
    """The state ``event`` leads to from ``state``; raises ``EventRefused`` or
    ``MissingDetail``. Pure: nothing is stored."""
    if state not in STATES:
        raise EventRefused(event=event, state=state)
    return next_state(TicketLifecycle, state=state, event=event, **details)
