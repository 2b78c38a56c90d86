"""The ticket lifecycle machine: allowed and refused events, and the details events need."""

from __future__ import annotations

import pytest
from statemachine import StateMachine

from ticketing.errors import EventRefused, MissingDetail
from ticketing.lifecycle import EVENTS, STATES, TicketLifecycle, check_event

REPORT = {"process": "remote session", "cause": "worn belt", "solution": "belt replaced",
          "parts_used": ["belt"], "before_after": "backlash 0.4 mm -> 0.05 mm"}

ALLOWED = {
    ("new", "dispatch"): "dispatched",
    ("dispatched", "refuse"): "new",
    ("dispatched", "accept"): "accepted",
    ("accepted", "start"): "in_progress",
    ("accepted", "extend_resolve"): "accepted",
    ("in_progress", "wait_customer"): "waiting_customer",
    ("in_progress", "extend_resolve"): "in_progress",
    ("waiting_customer", "resume"): "in_progress",
    ("waiting_customer", "extend_resolve"): "waiting_customer",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "dispute"): "in_progress",
    ("resolved", "sign_off"): "signed_off",
    ("signed_off", "archive"): "archived",
}
DETAILS = {"assignee": "E-01", "reason": "customer asked", "report": REPORT}


def test_machine_is_strict_and_complete():
    assert issubclass(TicketLifecycle, StateMachine)
    assert TicketLifecycle.allow_event_without_transition is False
    assert TicketLifecycle.catch_errors_as_events is False
    assert [s.value for s in TicketLifecycle.final_states] == ["archived"]
    assert set(STATES) == {"new", "dispatched", "accepted", "in_progress", "waiting_customer",
                           "resolved", "signed_off", "archived"}


@pytest.mark.parametrize(("state", "event"), sorted(ALLOWED))
def test_allowed_transitions(state, event):
    assert check_event(state=state, event=event, **DETAILS) == ALLOWED[(state, event)]


@pytest.mark.parametrize(("state", "event"), sorted(
    (s, e) for s in STATES for e in EVENTS if (s, e) not in ALLOWED))
def test_every_other_transition_is_refused(state, event):
    with pytest.raises(EventRefused) as err:
        check_event(state=state, event=event, **DETAILS)
    assert (err.value.event, err.value.state) == (event, state)


def test_unknown_event_and_state_are_refused():
    with pytest.raises(EventRefused):
        check_event(state="new", event="teleport")
    with pytest.raises(EventRefused):
        check_event(state="limbo", event="dispatch", assignee="E-01")


@pytest.mark.parametrize(("state", "event", "details", "message"), [
    ("new", "dispatch", {}, "assignee"),
    ("dispatched", "refuse", {"reason": " "}, "reason"),
    ("in_progress", "wait_customer", {}, "reason"),
    ("resolved", "dispute", {}, "reason"),
    ("in_progress", "extend_resolve", {}, "reason"),
    ("in_progress", "resolve", {}, "handling report"),
    ("in_progress", "resolve", {"report": {**REPORT, "cause": ""}}, "cause"),
])
def test_events_need_their_details(state, event, details, message):
    with pytest.raises(MissingDetail, match=message):
        check_event(state=state, event=event, **details)
