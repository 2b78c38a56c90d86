"""Ticket events on a real PostgreSQL: manual intake, optimistic concurrency, merge, cancel,
reopen, regrade, pauses moving timers, and the history read by id for notifications."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from storage import tickets as store
from storage import timers as tstore
from storage.connect import connect
from tests.ticketing.fleet import T0, act, anomaly, register
from ticketing.errors import (
    ConcurrentChange,
    EventRefused,
    GradingError,
    MissingDetail,
    TicketNotFound,
)
from ticketing.events import apply, create_manual_ticket
from ticketing.intake import ticket_anomaly
from ticketing.policy import builtin_policy
from ticketing.timers import fire_due

POLICY = builtin_policy("default")
M, H = timedelta(minutes=1), timedelta(hours=1)
REPORT = {"process": "remote", "cause": "loose cable", "solution": "re-crimped",
          "parts_used": ["connector"], "before_after": "alarm every 5 min -> none in 24 h"}


@pytest.fixture
def fleet(db_url: str) -> dict[str, int]:
    return register(db_url)


@pytest.fixture
def conn(db_url: str, fleet):
    with connect(db_url, autocommit=True) as c:
        yield c


def _manual(conn, robot="R-C1", impact="core-module", channel="phone", now=T0):
    return create_manual_ticket(conn=conn, robot=robot, channel=channel, reporter="Li Wei",
                                description="J3 alarm on every cycle", impact=impact,
                                request="call back before noon", actor="cs:agent-7", now=now,
                                policy=POLICY)


def test_manual_ticket_is_graded_like_monitoring_and_starts_its_clocks(conn):
    t = _manual(conn)
    assert (t.grade, t.channel, t.state, t.version) == ("II", "phone", "new", 1)
    assert (t.reporter, t.request) == ("Li Wei", "call back before noon")
    assert t.description == "J3 alarm on every cycle"
    assert (t.respond_by, t.onsite_by, t.plan_by, t.resolve_by) == (
        T0 + 30 * M, T0 + 2 * H, T0 + 4 * H, T0 + 48 * H)
    assert t.update_every == 4 * H and t.timezone == "Asia/Shanghai"
    runs = tstore.clocks_of(conn=conn, ticket_id=t.id)
    assert {r.clock: r.due_at - T0 for r in runs if r.due_at} == {
        "dispatch": 15 * M, "respond": 30 * M, "onsite": 2 * H, "plan": 4 * H,
        "resolve": 48 * H, "update": 4 * H}
    created = store.ticket_events(conn=conn, ticket_id=t.id)[0]
    assert created.actor == "cs:agent-7" and created.data["channel"] == "phone"
    assert created.data["grading"] == "matrix core x core-module -> II"


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"channel": "fax"}, MissingDetail, "channel"),
    ({"channel": "monitoring"}, MissingDetail, "channel"),
    ({"robot": "R-NOPE"}, MissingDetail, "no robot"),
    ({"impact": "catastrophic"}, GradingError, "impact"),
])
def test_bad_manual_intake_is_refused_and_writes_nothing(conn, kwargs, error, message):
    with pytest.raises(error, match=message):
        _manual(conn, **kwargs)
    with pytest.raises(MissingDetail, match="reporter"):
        create_manual_ticket(conn=conn, robot="R-C1", channel="email", reporter=" ",
                             description="x", impact="minor", request=None, actor="cs",
                             now=T0, policy=POLICY)
    assert store.list_tickets(conn=conn) == ([], 0)


def test_same_expected_version_one_wins_the_other_is_told_what_changed(conn):
    t = _manual(conn, impact="minor")  # grade IV: an engineer's ticket
    act(conn, t.id, "dispatch", T0, policy=POLICY, assignee="E-01")
    seen = store.get_ticket(conn=conn, ticket_id=t.id)
    assert seen is not None
    accepted = apply(conn=conn, ticket_id=t.id, event="accept", actor="eng:E-01",
                     expected_version=seen.version, now=T0 + M, policy=POLICY)
    assert accepted.version == seen.version + 1
    with pytest.raises(ConcurrentChange) as err:
        apply(conn=conn, ticket_id=t.id, event="reassign", actor="mgr:M-01",
              expected_version=seen.version, now=T0 + M, policy=POLICY, assignee="E-02",
              reason="closer")
    assert (err.value.state, err.value.version, err.value.expected) == (
        "accepted", seen.version + 1, seen.version)
    assert [e.event for e in store.ticket_events(conn=conn, ticket_id=t.id)][-1] == "accept"


def test_racing_events_in_two_sessions_one_wins(db_url, conn):
    t = _manual(conn, impact="minor")
    act(conn, t.id, "dispatch", T0, policy=POLICY, assignee="E-01")
    version = act(conn, t.id, "send_update", T0, policy=POLICY, message="on it").version
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def race(event: str, details: dict[str, str]) -> None:
        with connect(db_url, autocommit=True) as c:
            barrier.wait()
            try:
                apply(conn=c, ticket_id=t.id, event=event, actor="x", expected_version=version,
                      now=T0 + M, policy=POLICY, **details)
                outcomes.append(f"won:{event}")
            except ConcurrentChange:
                outcomes.append(f"lost:{event}")

    threads = [threading.Thread(target=race, args=("accept", {})),
               threading.Thread(target=race, args=("refuse", {"reason": "busy"}))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"]
    winner = next(o.split(":")[1] for o in outcomes if o.startswith("won"))
    final = store.get_ticket(conn=conn, ticket_id=t.id)
    assert final is not None and final.version == version + 1
    assert final.state == {"accept": "accepted", "refuse": "new"}[winner]


def test_unknown_ticket_event_and_actor(conn):
    t = _manual(conn)
    with pytest.raises(TicketNotFound):
        apply(conn=conn, ticket_id=999, event="accept", actor="x", expected_version=1, now=T0,
              policy=POLICY)
    with pytest.raises(EventRefused, match="unknown event"):
        apply(conn=conn, ticket_id=t.id, event="teleport", actor="x", expected_version=1,
              now=T0, policy=POLICY)
    with pytest.raises(MissingDetail, match="actor"):
        apply(conn=conn, ticket_id=t.id, event="cancel", actor=" ", expected_version=1, now=T0,
              policy=POLICY, reason="dup")
    with pytest.raises(ValueError, match="timezone-aware"):
        apply(conn=conn, ticket_id=t.id, event="cancel", actor="x", expected_version=1,
              now=T0.replace(tzinfo=None), policy=POLICY, reason="dup")


def test_merge_moves_the_anomalies_and_ends_the_duplicate(db_url, fleet, conn):
    aid = anomaly(db_url, fleet["R-C1"])
    dup = ticket_anomaly(conn=conn, anomaly_id=aid, policy=POLICY, now=T0).ticket_id
    assert dup is not None
    target = _manual(conn, robot="R-C1")
    with pytest.raises(EventRefused, match="itself"):
        act(conn, dup, "merge", T0 + M, policy=POLICY, into=dup)
    with pytest.raises(TicketNotFound):
        act(conn, dup, "merge", T0 + M, policy=POLICY, into=4242)
    merged = act(conn, dup, "merge", T0 + M, policy=POLICY, into=target.id,
                 reason="same fault reported by phone")
    assert merged.state == "merged" and merged.merged_into == target.id
    assert merged.anomaly_ids == [] and merged.closed_at == T0 + M
    after = store.get_ticket(conn=conn, ticket_id=target.id)
    assert after is not None and after.anomaly_ids == [aid]
    absorbed = store.ticket_events(conn=conn, ticket_id=target.id)[-1]
    assert absorbed.event == "absorbed" and absorbed.data["duplicate"] == merged.number
    # The duplicate's clocks stop and nothing of it will fire.
    assert tstore.unfired_timers(conn=conn, ticket_id=dup) == []
    other = _manual(conn, robot="R-I1")
    act(conn, other.id, "cancel", T0, policy=POLICY, reason="customer fixed it")
    with pytest.raises(EventRefused, match="cancelled"):
        act(conn, target.id, "merge", T0 + M, policy=POLICY, into=other.id)


def test_cancel_needs_a_reason_and_stops_every_clock(conn):
    t = _manual(conn)
    with pytest.raises(MissingDetail, match="reason"):
        act(conn, t.id, "cancel", T0, policy=POLICY)
    c = act(conn, t.id, "cancel", T0 + M, policy=POLICY, reason="reported twice")
    assert c.state == "cancelled" and c.closed_at == T0 + M
    assert all(r.closed_why == "cancelled" for r in tstore.clocks_of(conn=conn, ticket_id=t.id))
    assert fire_due(conn=conn, now=T0 + 100 * H, policy=POLICY) == []


def _resolved(conn, impact="minor"):
    t = _manual(conn, impact=impact)
    for event, details in (("dispatch", {"assignee": "E-01"}), ("accept", {}),
                           ("start_remote", {}), ("resolve", {"report": REPORT})):
        act(conn, t.id, event, T0 + M, policy=POLICY, **details)
    return t


def test_reopen_within_the_window_runs_resolve_again_with_what_it_had_left(conn):
    t = _resolved(conn)  # grade IV: 4 h, resolved after 1 min
    signed = act(conn, t.id, "sign_off", T0 + 2 * M, policy=POLICY)
    assert signed.closed_at == T0 + 2 * M
    reopened = act(conn, t.id, "reopen", T0 + 3 * H, policy=POLICY, reason="alarm is back")
    assert reopened.state == "in_progress" and reopened.closed_at is None
    assert reopened.resolved_at is None
    # 1 min was used before resolving: 3 h 59 min are left from the reopening.
    assert reopened.resolve_by == T0 + 3 * H + 4 * H - M


def test_reopen_after_the_window_is_refused(conn):
    t = _resolved(conn)
    act(conn, t.id, "sign_off", T0 + 2 * M, policy=POLICY)
    with pytest.raises(EventRefused, match="reopen window"):
        act(conn, t.id, "reopen", T0 + 2 * M + 7 * 24 * H + M, policy=POLICY, reason="again")


def test_grade_iv_completion_update_is_owed_once(conn):
    t = _resolved(conn)
    final = [r for r in tstore.clocks_of(conn=conn, ticket_id=t.id) if r.clock == "final_update"]
    assert len(final) == 1 and final[0].due_at == T0 + M + H
    act(conn, t.id, "send_update", T0 + 10 * M, policy=POLICY, message="fixed, please sign")
    run = tstore.get_clock(conn=conn, clock_id=final[0].id)
    assert run is not None and run.met_at == T0 + 10 * M and run.breached_at is None


def test_regrade_needs_a_reason_and_recomputes_clocks_from_acceptance(conn):
    t = _manual(conn, impact="minor")  # IV: respond 2 h, resolve 4 h, no onsite/plan/updates
    with pytest.raises(MissingDetail, match="reason"):
        act(conn, t.id, "regrade", T0 + H, policy=POLICY, grade="I")
    r = act(conn, t.id, "regrade", T0 + H, policy=POLICY, grade="I",
            reason="line stopped after all")
    assert (r.grade, r.update_every) == ("I", 2 * H)
    assert (r.respond_by, r.onsite_by, r.plan_by, r.resolve_by) == (
        T0 + 15 * M, T0 + H, T0 + 2 * H, T0 + 24 * H)
    ev = store.ticket_events(conn=conn, ticket_id=t.id)[-1]
    assert (ev.event, ev.data["from_grade"], ev.data["to_grade"]) == ("regrade", "IV", "I")
    # Overdue under the new grade at once: the respond breach fires now, not at 2 h.
    fired = fire_due(conn=conn, now=T0 + H, policy=POLICY)
    assert ("respond", "breach") in {(f.clock, f.action) for f in fired}
    assert ("onsite", "breach") in {(f.clock, f.action) for f in fired}


def test_waiting_for_the_customer_parks_the_timers_and_resume_moves_them(conn):
    t = _manual(conn, impact="minor")
    for event, details in (("dispatch", {"assignee": "E-01"}), ("accept", {}),
                           ("start_remote", {})):
        act(conn, t.id, event, T0, policy=POLICY, **details)
    act(conn, t.id, "wait_customer", T0 + H, policy=POLICY, reason="robot in production")
    parked = tstore.unfired_timers(conn=conn, ticket_id=t.id)
    assert parked and all(x.due_at is None and x.paused_left is not None for x in parked)
    assert fire_due(conn=conn, now=T0 + 50 * H, policy=POLICY) == []  # nothing while parked
    act(conn, t.id, "resume", T0 + 51 * H, policy=POLICY)
    resolve = [r for r in tstore.clocks_of(conn=conn, ticket_id=t.id) if r.clock == "resolve"][-1]
    assert resolve.due_at == T0 + 54 * H  # 3 h were left of 4
    warn = [x for x in tstore.unfired_timers(conn=conn, ticket_id=t.id) if x.action == "warn"]
    assert [x.due_at for x in warn] == [T0 + 50 * H + 3 * H + 12 * M]


def test_history_is_read_by_id_for_the_outbox(conn):
    t = _manual(conn, impact="minor")
    mark = max(e.id for e in store.events_since(conn=conn, after_id=0))
    fire_due(conn=conn, now=T0 + 20 * M, policy=POLICY)  # dispatch warned, breached, escalated
    new = store.events_since(conn=conn, after_id=mark)
    assert [e.event for e in new] == ["clock_warning", "clock_breached", "escalation"]
    only = store.events_since(conn=conn, after_id=mark, events=["escalation"])
    assert [(e.ticket_id, e.data["level"], e.data["role"]) for e in only] == [
        (t.id, 2, "manager")]
    assert store.events_since(conn=conn, after_id=new[-1].id) == []
