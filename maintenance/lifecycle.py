"""The life of an inspection work order, declared like ``ticketing/lifecycle.py`` (strict
python-statemachine, checked at import for unreachable and trap states)::

    planned --schedule--> scheduled --start--> in_progress --complete--> completed
       |                   |  ^  |                  |
       |                   +--+  +--escalate(self)  +--escalate (self)
       |               reschedule
       +------------cancel-----------+--> cancelled

``reschedule`` (a window or an engineer changed, or condition moved it earlier) and
``escalate`` (overdue) keep the state; ``complete`` needs the checklist results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from maintenance.errors import InspectionRefused, MissingDetail

__all__ = ["InspectionLifecycle", "STATES", "EVENTS", "OPEN_STATES", "check_event"]


def _require(name: str, value: Any) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MissingDetail(f"{name} is required")


class InspectionLifecycle(StateMachine):
    planned = State(initial=True)
    scheduled = State()
    in_progress = State()
    completed = State(final=True)
    cancelled = State(final=True)

    schedule = planned.to(scheduled, validators="_needs_window")
    reschedule = (planned.to.itself(validators="_needs_reason")  # type: ignore[no-untyped-call]
                  | scheduled.to.itself(validators="_needs_reason"))  # type: ignore[no-untyped-call]
    start = scheduled.to(in_progress)
    complete = in_progress.to(completed, validators="_needs_results")
    escalate = (planned.to.itself(validators="_needs_reason")  # type: ignore[no-untyped-call]
                | scheduled.to.itself(validators="_needs_reason")  # type: ignore[no-untyped-call]
                | in_progress.to.itself(validators="_needs_reason"))  # type: ignore[no-untyped-call]
    cancel = (planned.to(cancelled, validators="_needs_reason")
              | scheduled.to(cancelled, validators="_needs_reason"))

    def _needs_window(self, window_start: Any = None, **_: Any) -> None:
        _require("window_start", window_start)

    def _needs_reason(self, reason: str | None = None, **_: Any) -> None:
        _require("reason", reason)

    def _needs_results(self, results: dict[str, Any] | None = None, **_: Any) -> None:
        if not isinstance(results, dict) or not results:
            raise MissingDetail("complete needs the checklist results (item -> ok / finding)")


STATES = tuple(s.value for s in InspectionLifecycle.states)
EVENTS = tuple(e.id for e in InspectionLifecycle.events)  # type: ignore[attr-defined]
OPEN_STATES = ("planned", "scheduled", "in_progress")


@dataclass(slots=True)
class _Snapshot:
    state: str


def check_event(*, state: str, event: str, **details: Any) -> str:
    """The state ``event`` leads to from ``state``; raises ``InspectionRefused`` or
    ``MissingDetail``. Pure: nothing is stored."""
    if state not in STATES:
        raise InspectionRefused(event=event, state=state)
    snap = _Snapshot(state=state)
    try:
        InspectionLifecycle(model=snap).send(event, **details)
    except TransitionNotAllowed as exc:
        raise InspectionRefused(event=event, state=state) from exc
    return snap.state
