"""The ticket lifecycle machine: allowed and refused events, and the details events need."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from statemachine import StateMachine

from ticketing.errors import EventRefused, MissingDetail
from ticketing.lifecycle import EVENTS, STATES, TicketLifecycle, check_event

REPORT = {"process": "remote session", "cause": "worn belt", "solution": "belt replaced",
          "parts_used": ["belt"], "before_after": "backlash 0.4 mm -> 0.05 mm"}

_WORKING = ("accepted", "travelling", "in_progress")
_OPEN = ("new", "dispatched", *_WORKING, "waiting_customer")
ALLOWED = {
    ("new", "dispatch"): "dispatched",
    ("dispatched", "refuse"): "new",
    ("dispatched", "accept"): "accepted",
    ("dispatched", "reassign"): "dispatched",
    **{(s, "reassign"): "dispatched" for s in _WORKING},
    ("accepted", "start_remote"): "in_progress",
    ("accepted", "start_travel"): "travelling",
    ("travelling", "arrive"): "in_progress",
    ("in_progress", "wait_customer"): "waiting_customer",
    ("waiting_customer", "resume"): "in_progress",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "dispute"): "in_progress",
    ("resolved", "sign_off"): "signed_off",
    ("resolved", "reopen"): "in_progress",
    ("signed_off", "reopen"): "in_progress",
    ("signed_off", "archive"): "archived",
    **{(s, "cancel"): "cancelled" for s in _OPEN},
    **{(s, "merge"): "merged" for s in _OPEN},
    **{(s, "regrade"): s for s in _OPEN},
    **{(s, "extend_resolve"): s for s in (*_WORKING, "waiting_customer")},
    **{(s, "submit_plan"): s for s in _WORKING},
    **{(s, "send_update"): s for s in ("dispatched", *_WORKING, "waiting_customer",
                                        "resolved")},
}
DETAILS = {"assignee": "E-01", "reason": "customer asked", "report": REPORT, "grade": "II",
           "into": 7, "plan": "replace the fan", "message": "engineer on the way"}


def test_machine_is_strict_and_complete():
    assert issubclass(TicketLifecycle, StateMachine)
    assert TicketLifecycle.allow_event_without_transition is False
    assert TicketLifecycle.catch_errors_as_events is False
    assert [s.value for s in TicketLifecycle.final_states] == ["archived", "cancelled", "merged"]
    assert set(STATES) == {"new", "dispatched", "accepted", "travelling", "in_progress",
                           "waiting_customer", "resolved", "signed_off", "archived",
                           "cancelled", "merged"}


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
    ("dispatched", "reassign", {"assignee": "E-02"}, "reason"),
    ("new", "cancel", {}, "reason"),
    ("new", "merge", {"into": "RW-1"}, "into"),
    ("new", "regrade", {"reason": "worse"}, "grade"),
    ("new", "regrade", {"grade": "V", "reason": "worse"}, "grade"),
    ("new", "regrade", {"grade": "I"}, "reason"),
    ("signed_off", "reopen", {}, "reason"),
    ("in_progress", "submit_plan", {"plan": ""}, "plan"),
    ("in_progress", "send_update", {}, "message"),
])
def test_events_need_their_details(state, event, details, message):
    with pytest.raises(MissingDetail, match=message):
        check_event(state=state, event=event, **details)


def _fresh(state: str, event: str, **details: Any) -> str:
    snap = _Snap(state=state)
    try:
        TicketLifecycle(model=snap).send(event, **details)
    except Exception as exc:  # noqa: BLE001 - the kind of refusal is what is compared
        return type(exc).__name__
    return snap.state


@dataclass
class _Snap:
    state: str


def test_a_reused_machine_answers_like_a_fresh_one() -> None:
    """check_event keeps one machine per thread; in any order of calls (refusals, missing
    details, final states among them) it answers what a new machine would."""
    full = {"assignee": "E-01", "reason": "r", "plan": "p", "message": "m", "into": 5,
            "grade": "II", "report": {"cause": "c"}}
    cases = [(s, e, d) for s in STATES for e in EVENTS for d in ({}, full)]
    random.Random(7).shuffle(cases)
    for state, event, details in cases * 2:
        try:
            got = check_event(state=state, event=event, **details)
        except (EventRefused, MissingDetail) as exc:
            got = {"EventRefused": "TransitionNotAllowed"}.get(type(exc).__name__,
                                                               type(exc).__name__)
        assert got == _fresh(state, event, **details), (state, event, details)
