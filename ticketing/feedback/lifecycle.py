"""The life of a feedback record or complaint (service rules section 5) as a strict
python-statemachine machine, checked at import like ``ticketing.lifecycle``.

::

    received --route--> routing --confirm--> processing --rectify--> rectifying
                         ^   |                   |                       |
                         +---+ reroute           +------complete---------+--complete--+
                                                                                      v
                                                            archived <--archive-- completed

Self-transitions keep the state: ``respond`` (a complaint's first response; any state before
completion), ``submit_plan``, ``send_progress`` (processing, rectifying), ``request_extension``,
``approve_extension``, ``reject_extension`` (routing, processing, rectifying), ``tell_result``
and ``revisit`` (completed). The machine knows states and the details each event needs;
``ticketing.feedback.records.apply`` stores the move, its clocks and its history row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from statemachine import State, StateMachine

from ticketing.errors import EventRefused, MissingDetail
from ticketing.lifecycle import into, next_state, require_detail, stay

__all__ = ["FeedbackLifecycle", "FEEDBACK_STATES", "FEEDBACK_EVENTS", "check_feedback_event"]


class FeedbackLifecycle(StateMachine):
    """States and allowed events of a feedback record; validators check the details."""

    received = State(initial=True)
    routing = State()
    processing = State()
    rectifying = State()
    completed = State()
    archived = State(final=True)

    route = received.to(routing, validators="_needs_department")
    reroute = routing.to.itself(validators=["_needs_department", "_needs_reason"])  # type: ignore[no-untyped-call]
    confirm = routing.to(processing)
    rectify = processing.to(rectifying, validators="_needs_plan")
    complete = into(completed, (processing, rectifying), "_needs_result")
    archive = completed.to(archived)
    respond = stay((received, routing, processing, rectifying), "_needs_message")
    submit_plan = stay((processing, rectifying), "_needs_plan")
    send_progress = stay((processing, rectifying), "_needs_message")
    request_extension = stay((routing, processing, rectifying),
                              ["_needs_reason", "_needs_new_due"])
    approve_extension = stay((routing, processing, rectifying), "_needs_notice")
    reject_extension = stay((routing, processing, rectifying), "_needs_notice")
    tell_result = stay((completed,), "_needs_message")
    revisit = stay((completed,), "_needs_message")

    def _needs_department(self, department: str | None = None, **_: Any) -> None:
        require_detail("department", department)

    def _needs_reason(self, reason: str | None = None, **_: Any) -> None:
        require_detail("reason", reason)

    def _needs_plan(self, plan: str | None = None, **_: Any) -> None:
        require_detail("plan", plan)

    def _needs_result(self, result: str | None = None, **_: Any) -> None:
        require_detail("result", result)

    def _needs_message(self, message: str | None = None, **_: Any) -> None:
        require_detail("message", message)

    def _needs_notice(self, notice: str | None = None, **_: Any) -> None:
        # The customer is told of the decision: what they were told is the record of it.
        require_detail("notice (what the customer is told)", notice)

    def _needs_new_due(self, new_due: datetime | None = None, **_: Any) -> None:
        if not isinstance(new_due, datetime) or new_due.utcoffset() is None:
            raise MissingDetail("an extension needs the new date (new_due, timezone-aware)")


FEEDBACK_STATES = tuple(s.value for s in FeedbackLifecycle.states)
FEEDBACK_EVENTS = tuple(e.id for e in FeedbackLifecycle.events)  # type: ignore[attr-defined]


def check_feedback_event(*, state: str, event: str, **details: Any) -> str:
    """The state ``event`` leads to from ``state``; raises ``EventRefused`` or
    ``MissingDetail``. Pure."""
    if state not in FEEDBACK_STATES:
        raise EventRefused(event=event, state=state)
    return next_state(FeedbackLifecycle, state=state, event=event, **details)
