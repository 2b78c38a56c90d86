"""Lifecycle events on stored tickets: history rows, pauses, extension, dispatch (real DB)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import tickets as store
from storage.connect import connect
from tests.ticketing.fleet import T0, act, anomaly, register
from ticketing.dispatch import auto_dispatch
from ticketing.errors import EventRefused, MissingDetail, TicketNotFound
from ticketing.intake import ticket_anomaly
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
H = timedelta(hours=1)
REPORT = {"process": "on site", "cause": "fan failure", "solution": "fan replaced",
          "parts_used": ["fan-24V"], "before_after": "J3 92 C -> 61 C"}


@pytest.fixture
def conn(db_url: str):
    with connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def fleet(db_url: str) -> dict[str, int]:
    return register(db_url)


def _ticket(db_url, conn, robot_id, impact="core-module") -> int:
    aid = anomaly(db_url, robot_id, impact=impact)
    tid = ticket_anomaly(conn=conn, anomaly_id=aid, policy=POLICY, now=T0).ticket_id
    assert tid is not None
    return tid


def _get(conn: store.Conn, ticket_id: int) -> store.TicketRow:
    """The stored ticket ``ticket_id``; the test fails when there is none."""
    t = store.get_ticket(conn=conn, ticket_id=ticket_id)
    assert t is not None
    return t


def _do(conn, tid, event, at, **details):
    return act(conn, tid, event, at, policy=POLICY, **details)


def test_full_life_with_refusal_pause_dispute_and_history(db_url, fleet, conn):
    tid = _ticket(db_url, conn, fleet["R-C1"])  # grade II core: resolve 48 h
    before = _get(conn, tid)
    _do(conn, tid, "dispatch", T0, assignee="E-02")
    refused = _do(conn, tid, "refuse", T0 + timedelta(minutes=5), reason="outside my city")
    assert refused.state == "new" and refused.assignee is None
    _do(conn, tid, "dispatch", T0 + timedelta(minutes=6), assignee="E-01")
    accepted = _do(conn, tid, "accept", T0 + timedelta(minutes=10))
    assert accepted.responded_at == T0 + timedelta(minutes=10) and accepted.assignee == "E-01"
    _do(conn, tid, "start_remote", T0 + H)
    _do(conn, tid, "wait_customer", T0 + 3 * H, reason="line locked for production")
    resumed = _do(conn, tid, "resume", T0 + 5 * H)
    # Paused 2 h: deadlines still ahead at the pause move; respond_by had passed and stays.
    assert resumed.respond_by == before.respond_by
    assert before.plan_by is not None  # grade II has a plan deadline
    assert resumed.plan_by == before.plan_by + 2 * H
    assert resumed.resolve_by == before.resolve_by + 2 * H
    assert resumed.onsite_by == before.onsite_by  # 2 h: already due when the pause began
    _do(conn, tid, "resolve", T0 + 10 * H, report=REPORT)
    disputed = _do(conn, tid, "dispute", T0 + 11 * H, reason="still too hot")
    assert disputed.state == "in_progress" and disputed.resolved_at is None
    _do(conn, tid, "resolve", T0 + 12 * H, report=REPORT)
    signed = _do(conn, tid, "sign_off", T0 + 13 * H)
    assert signed.closed_at == T0 + 13 * H and signed.resolved_at == T0 + 12 * H
    archived = _do(conn, tid, "archive", T0 + 14 * H)
    assert archived.state == "archived"

    history = store.ticket_events(conn=conn, ticket_id=tid)
    assert [(e.event, e.from_state, e.to_state) for e in history] == [
        ("created", None, "new"), ("anomaly_appended", "new", "new"),
        ("dispatch", "new", "dispatched"), ("refuse", "dispatched", "new"),
        ("dispatch", "new", "dispatched"), ("accept", "dispatched", "accepted"),
        ("start_remote", "accepted", "in_progress"),
        ("wait_customer", "in_progress", "waiting_customer"),
        ("resume", "waiting_customer", "in_progress"), ("resolve", "in_progress", "resolved"),
        ("dispute", "resolved", "in_progress"), ("resolve", "in_progress", "resolved"),
        ("sign_off", "resolved", "signed_off"), ("archive", "signed_off", "archived"),
    ]
    assert history[3].data == {"reason": "outside my city", "refused_by": "E-02"}
    assert history[8].data["paused"] == "2:00:00"
    assert history[9].data["report"] == REPORT
    assert all(e.actor == "eng:E-01" for e in history[2:])
    assert history[7].at == T0 + 3 * H


def test_refused_detail_leaves_no_trace(db_url, fleet, conn):
    tid = _ticket(db_url, conn, fleet["R-C1"])
    with pytest.raises(MissingDetail, match="no engineer"):
        _do(conn, tid, "dispatch", T0, assignee="NOBODY")
    with pytest.raises(MissingDetail, match="assignee"):
        _do(conn, tid, "dispatch", T0)
    with pytest.raises(EventRefused):
        _do(conn, tid, "resolve", T0, report=REPORT)
    with pytest.raises(TicketNotFound):
        _do(conn, 4242, "accept", T0)
    assert _get(conn, tid).state == "new"
    assert [e.event for e in store.ticket_events(conn=conn, ticket_id=tid)] == [
        "created", "anomaly_appended"]


def test_grade_iv_extension_counts_pauses(db_url, fleet, conn):
    tid = _ticket(db_url, conn, fleet["R-O1"], impact="minor")  # IV: 4 h, extendable to 8 h
    for event, at, details in (("dispatch", T0, {"assignee": "E-01"}), ("accept", T0, {}),
                               ("start_remote", T0, {}),
                               ("wait_customer", T0 + H, {"reason": "no access"}),
                               ("resume", T0 + 2 * H, {})):
        _do(conn, tid, event, at, **details)
    assert _get(conn, tid).resolve_by == T0 + 5 * H
    with pytest.raises(MissingDetail, match="reason"):
        _do(conn, tid, "extend_resolve", T0 + 3 * H)
    t = _do(conn, tid, "extend_resolve", T0 + 3 * H, reason="encoder on order, told customer")
    assert t.resolve_by == T0 + 9 * H and t.state == "in_progress"


def test_auto_dispatch_routes_by_grade_skills_and_city(db_url, fleet, conn):
    grade_ii = _ticket(db_url, conn, fleet["R-C1"], impact="core-module")
    assert auto_dispatch(conn=conn, ticket_id=grade_ii, policy=POLICY, now=T0) == "M-01"
    aid = anomaly(db_url, fleet["R-I1"], impact="minor", kind="vibration")
    grade_iv = ticket_anomaly(conn=conn, anomaly_id=aid, policy=POLICY, now=T0).ticket_id
    assert grade_iv is not None
    # E-01 knows ABB and is in Suzhou like the robot; E-02 has no open ticket but neither.
    assert auto_dispatch(conn=conn, ticket_id=grade_iv, policy=POLICY, now=T0) == "E-01"
    _do(conn, grade_iv, "refuse", T0, reason="on another job")
    assert auto_dispatch(conn=conn, ticket_id=grade_iv, policy=POLICY, now=T0) == "E-02"
    _do(conn, grade_iv, "refuse", T0, reason="sick")
    assert auto_dispatch(conn=conn, ticket_id=grade_iv, policy=POLICY, now=T0) is None
    assert _get(conn, grade_iv).state == "new"
    assert auto_dispatch(conn=conn, ticket_id=grade_ii, policy=POLICY, now=T0) is None  # not new
