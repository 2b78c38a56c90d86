"""The after-sales loop on a real PostgreSQL with a controllable clock (issue 11 sections 1
and 2): feedback of each urgency through routing, extension and completion, a complaint, a
callback with a low score opening a follow-up, a repeat fault flagged with its root-cause
report due, a common problem opened by three robots, and the quality-control draw."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from storage import callbacks as cstore
from storage import feedback as fstore
from storage import improvement as istore
from storage import tickets as store
from storage import timers as tstore
from storage.connect import connect
from tests.aftersales.scenario import DAY, MON, H, complete, run_until, setup, some, ticket
from ticketing.errors import EventRefused, LinkRefused
from ticketing.feedback import callbacks
from ticketing.feedback.records import apply, register
from ticketing.feedback.timers import fire_due_feedback
from ticketing.improvement import common, quality, rca
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
M = timedelta(minutes=1)


@pytest.fixture
def conn(db_url: str):
    with connect(db_url, autocommit=True) as c:
        setup(c)
        yield c


def new(conn: Any, at: datetime, *, urgency: str = "general", kind: str = "feedback",
        category: str = "product_quality", major: bool = False,
        received: timedelta = H) -> fstore.FeedbackRow:
    return register(conn=conn, kind=kind, customer="ACME", category=category, urgency=urgency,
                    channel="phone", reporter="plant manager", summary="paint defects",
                    received_at=at - received, now=at, actor="cs:anna", policy=POLICY,
                    major=major)


def fb(conn: Any, fid: int, event: str, at: datetime, actor: str = "cs:anna",
       **details: Any) -> fstore.FeedbackRow:
    seen = fstore.get_feedback(conn=conn, feedback_id=fid)
    assert seen is not None
    return apply(conn=conn, feedback_id=fid, event=event, actor=actor,
                 expected_version=seen.version, now=at, policy=POLICY, **details)


def due(conn: Any, fid: int) -> dict[str, datetime | None]:
    return {c.clock: c.due_at for c in tstore.open_clocks(conn=conn, feedback_id=fid)}


def system(conn: Any, fid: int) -> list[tuple[str, str, int]]:
    return [(e.event, e.data["clock"], int(e.data.get("level", 0)))
            for e in fstore.feedback_events(conn=conn, feedback_id=fid) if e.actor == "system"]


def test_urgent_feedback_breaches_its_plan_escalates_then_completes(conn):
    rec = new(conn, MON, urgency="urgent")
    assert rec.number == "FB-20261123-0001" and not rec.registered_late
    assert due(conn, rec.id) == {"plan": MON + 24 * H, "solve": MON + 72 * H}
    rec = fb(conn, rec.id, "route", MON + 10 * M)      # the policy's department
    assert rec.state == "routing" and rec.department == "production/technical"
    assert due(conn, rec.id)["confirm"] == MON + 10 * M + DAY   # 1 working day (Tuesday)
    fb(conn, rec.id, "confirm", MON + H, actor="dept:prod")
    run_until(conn, MON + 25 * H, POLICY)
    # 80 % of 24 h, the breach at 24 h, the ladder's first rung at once (default.toml).
    assert system(conn, rec.id) == [("clock_warning", "plan", 0), ("clock_breached", "plan", 0),
                                    ("escalation", "plan", 2)]
    assert some(fstore.get_feedback(conn=conn, feedback_id=rec.id)).escalation == 2
    fb(conn, rec.id, "submit_plan", MON + 25 * H, actor="dept:prod", plan="new primer")
    fb(conn, rec.id, "rectify", MON + 26 * H, actor="dept:prod", plan="new primer")
    fb(conn, rec.id, "complete", MON + 30 * H, result="primer changed on line 2")
    with pytest.raises(EventRefused, match="not been told"):
        fb(conn, rec.id, "archive", MON + 30 * H)
    rec = some(fstore.get_feedback(conn=conn, feedback_id=rec.id))
    assert rec.state == "completed" and rec.completed_at == MON + 30 * H
    assert set(due(conn, rec.id)) == {"tell"}            # solve met; the result is owed
    assert due(conn, rec.id)["tell"] == MON + 30 * H + DAY
    fb(conn, rec.id, "tell_result", MON + 31 * H, message="fixed, thank you")
    rec = fb(conn, rec.id, "archive", MON + 31 * H)
    assert rec.state == "archived" and due(conn, rec.id) == {}
    solve = [c for c in tstore.clocks_of(conn=conn, feedback_id=rec.id) if c.clock == "solve"]
    assert solve[0].met_at == MON + 30 * H and solve[0].breached_at is None


def test_general_feedback_extension_asked_in_time_approved_and_told(conn):
    rec = new(conn, MON)
    # 3 and 7 working days from Monday 09:00: Thursday, and Wednesday of the next week.
    assert due(conn, rec.id) == {"plan": MON + 3 * DAY, "solve": MON + 9 * DAY}
    fb(conn, rec.id, "route", MON + H, department="production/technical")
    fb(conn, rec.id, "confirm", MON + 2 * H)
    fb(conn, rec.id, "submit_plan", MON + DAY, plan="audit the paint line")
    new_due = MON + 11 * DAY
    with pytest.raises(EventRefused, match="before the deadline"):
        # Tuesday 12:00 of week 2, 21 h before the deadline: too late to ask.
        fb(conn, rec.id, "request_extension", MON + 8 * DAY + 3 * H,
           reason="supplier late", new_due=new_due)
    fb(conn, rec.id, "request_extension", MON + 7 * DAY, actor="dept:prod",
       reason="the supplier's new primer arrives on Friday", new_due=new_due)
    with pytest.raises(EventRefused, match="still waiting"):
        fb(conn, rec.id, "request_extension", MON + 7 * DAY, reason="again", new_due=new_due)
    fb(conn, rec.id, "approve_extension", MON + 7 * DAY + H, actor="mgr:lee",
       notice="phoned the plant manager: new date Friday")
    assert due(conn, rec.id)["solve"] == new_due
    [ext] = fstore.extensions_of(conn=conn, feedback_id=rec.id)
    assert ext.approved and ext.decided_by == "mgr:lee" and ext.old_due == MON + 9 * DAY
    run_until(conn, MON + 10 * DAY, POLICY)          # past the old deadline: no breach
    assert ("clock_breached", "solve", 0) not in system(conn, rec.id)
    fb(conn, rec.id, "rectify", MON + 10 * DAY, plan="new primer")
    fb(conn, rec.id, "complete", MON + 10 * DAY + H, result="primer replaced")
    fb(conn, rec.id, "tell_result", MON + 10 * DAY + 2 * H, message="done")
    assert fb(conn, rec.id, "archive", MON + 10 * DAY + 2 * H).state == "archived"


def test_complex_feedback_reports_progress_and_is_revisited_after_a_month(conn):
    rec = new(conn, MON, urgency="complex", category="cross_department")
    assert due(conn, rec.id) == {"plan": MON + 5 * DAY + 2 * DAY}   # 5 working days
    fb(conn, rec.id, "route", MON + H)
    fb(conn, rec.id, "confirm", MON + 2 * H)
    fb(conn, rec.id, "submit_plan", MON + DAY, plan="milestones: audit, retrofit, train")
    assert due(conn, rec.id)["update"] == MON + 8 * DAY             # 5 working days later
    fb(conn, rec.id, "send_progress", MON + 7 * DAY, message="audit done")
    assert due(conn, rec.id)["update"] == MON + 14 * DAY
    fb(conn, rec.id, "complete", MON + 9 * DAY, result="retrofit done, staff trained")
    rec = fb(conn, rec.id, "tell_result", MON + 9 * DAY, message="done")
    assert rec.revisit_due and set(due(conn, rec.id)) == {"revisit"}
    with pytest.raises(EventRefused, match="revisit is still owed"):
        fb(conn, rec.id, "archive", MON + 10 * DAY)
    with pytest.raises(EventRefused, match="not before"):
        fb(conn, rec.id, "revisit", MON + 20 * DAY, message="too early")
    fb(conn, rec.id, "revisit", MON + 45 * DAY, message="no recurrence, customer satisfied")
    assert fb(conn, rec.id, "archive", MON + 45 * DAY).state == "archived"


def test_late_registration_is_flagged(conn):
    rec = new(conn, MON + 2 * DAY, received=2 * DAY)
    assert rec.registered_late


def test_complaint_responded_in_15_min_and_answered_in_3_working_days(conn):
    rec = new(conn, MON, kind="complaint", category="service_process", received=0 * H)
    assert rec.number.startswith("CP-")
    assert due(conn, rec.id) == {"respond": MON + 15 * M, "answer": MON + 3 * DAY}
    run_until(conn, MON + 20 * M, POLICY)
    assert system(conn, rec.id)[:2] == [("clock_warning", "respond", 0),
                                        ("clock_breached", "respond", 0)]
    rec = fb(conn, rec.id, "respond", MON + 20 * M, message="we are looking into it")
    assert rec.responded_at == MON + 20 * M
    fb(conn, rec.id, "route", MON + H)
    fb(conn, rec.id, "confirm", MON + 2 * H)
    rec = fb(conn, rec.id, "complete", MON + 2 * DAY, result="engineer retrained")
    answer = [c for c in tstore.clocks_of(conn=conn, feedback_id=rec.id)
              if c.clock == "answer"][0]
    assert answer.met_at == MON + 2 * DAY and answer.breached_at is None
    got = fstore.complaints_between(conn=conn, since=MON, until=MON + 7 * DAY)
    assert [c.number for c in got] == [rec.number]


def test_callback_through_the_link_with_a_low_score_opens_a_follow_up(conn):
    t = ticket(conn, "R-A1", MON, POLICY, impact="minor")
    complete(conn, t.id, MON, POLICY)
    cb = some(cstore.get_callback(conn=conn, ticket_id=t.id))
    signed = MON + 40 * M
    assert cb.opened_at == signed and cb.due_at == signed + 3 * DAY
    token = callbacks.issue_link(conn=conn, ticket_id=t.id, policy=POLICY, now=signed)
    with pytest.raises(LinkRefused):
        callbacks.record_by_link(conn=conn, token=token + "x", score=5, suggestions=None,
                                 now=signed + H, policy=POLICY)
    cb = callbacks.record_by_link(conn=conn, token=token, score=2,
                                  suggestions="the engineer came late", now=signed + DAY,
                                  policy=POLICY)
    assert (cb.score, cb.via, cb.recorded_by) == (2, "link", "customer:ACME")
    follow = some(fstore.get_feedback(conn=conn, feedback_id=some(cb.follow_up_id)))
    assert (follow.ticket_id, follow.channel, follow.category) == (t.id, "callback",
                                                                   "service_process")
    assert "the engineer came late" in follow.summary
    with pytest.raises(LinkRefused):               # single use
        callbacks.record_by_link(conn=conn, token=token, score=5, suggestions=None,
                                 now=signed + DAY, policy=POLICY)
    run_until(conn, signed + 5 * DAY, POLICY)
    clock = some(tstore.latest_clock(conn=conn, ticket_id=t.id, clock="callback"))
    assert clock.met_at == signed + DAY and clock.breached_at is None
    events = [e.event for e in store.ticket_events(conn=conn, ticket_id=t.id)]
    assert events[-1] == "callback_recorded"
    scores = cstore.callback_scores(conn=conn, since=MON, until=MON + 7 * DAY)
    assert [(s.ticket, s.score) for s in scores] == [(t.number, 2)]


def test_callback_taken_by_staff_with_a_good_score_and_a_missed_survey_breaches(conn):
    a = ticket(conn, "R-A1", MON, POLICY, impact="minor")
    b = ticket(conn, "R-B1", MON, POLICY, impact="minor", kind="encoder_fault")
    complete(conn, a.id, MON, POLICY)
    complete(conn, b.id, MON, POLICY)
    cb = callbacks.record(conn=conn, ticket_id=a.id, score=5, suggestions="", actor="cs:anna",
                          now=MON + DAY, policy=POLICY)
    assert cb.follow_up_id is None and cb.via == "staff"
    with pytest.raises(EventRefused, match="already answered"):
        callbacks.record(conn=conn, ticket_id=a.id, score=4, suggestions=None, actor="cs:anna",
                         now=MON + DAY, policy=POLICY)
    run_until(conn, MON + 4 * DAY, POLICY)
    missed = some(tstore.latest_clock(conn=conn, ticket_id=b.id, clock="callback"))
    assert missed.breached_at == MON + 40 * M + 3 * DAY


def test_a_repeat_fault_is_flagged_and_its_root_cause_report_falls_due(conn):
    first = ticket(conn, "R-B1", MON, POLICY)
    complete(conn, first.id, MON, POLICY)
    again = ticket(conn, "R-B1", MON + 10 * DAY, POLICY)
    assert istore.repeat_of(conn=conn, ticket_id=again.id) == first.id
    flagged = [e for e in store.ticket_events(conn=conn, ticket_id=again.id)
               if e.event == "repeat_flagged"]
    assert flagged[0].data["previous"] == first.number
    report = some(istore.get_rca(conn=conn, ticket_id=again.id))
    assert report.required_for == ["repeat"] and report.due_at is None
    complete(conn, again.id, MON + 10 * DAY, POLICY)
    done = MON + 10 * DAY + 40 * M
    report = some(istore.get_rca(conn=conn, ticket_id=again.id))
    # Grade II (core customer, core module) and a repeat: both reasons, 3 working days.
    # Thursday 09:40 + 3 working days: Tuesday 09:40.
    assert report.required_for == ["grade", "repeat"] and report.due_at == done + 5 * DAY
    run_until(conn, done + 5 * DAY, POLICY)
    clock = some(tstore.latest_clock(conn=conn, ticket_id=again.id, clock="rca"))
    assert clock.breached_at == done + 5 * DAY
    report = rca.submit(conn=conn, ticket_id=again.id, category="maintenance",
                        cause="lubrication interval too long", lessons="follow the OEM interval",
                        gaps="no lubrication record", actions=["lubricate every 2000 h"],
                        actor="eng:E-01", now=done + 6 * DAY, policy=POLICY)
    assert report.category == "maintenance" and report.submitted_at == done + 6 * DAY
    with pytest.raises(EventRefused):
        rca.submit(conn=conn, ticket_id=again.id, category="design", cause="c", lessons="l",
                   gaps="g", actions=["a"], actor="eng:E-01", now=done + 5 * DAY,
                   policy=POLICY)
    # Outside the 30-day window: not a repeat.
    late = ticket(conn, "R-B1", done + 31 * DAY, POLICY)
    assert istore.repeat_of(conn=conn, ticket_id=late.id) is None


def test_a_common_problem_opens_at_the_third_robot_and_runs_its_capa(conn):
    t1 = ticket(conn, "R-A1", MON, POLICY, kind="servo_alarm_50")
    t2 = ticket(conn, "R-A2", MON + DAY, POLICY, kind="servo_alarm_50")
    assert istore.list_problems(conn=conn) == []      # 2 robots, 1 customer: not yet
    t3 = ticket(conn, "R-A3", MON + 2 * DAY, POLICY, kind="servo_alarm_50")
    [p] = istore.list_problems(conn=conn)
    assert (p.kind, p.robots, p.customers, p.state) == ("servo_alarm_50", 3, 1, "open")
    assert p.capa_due == MON + 2 * DAY + 14 * DAY        # 10 working days
    assert istore.problem_tickets(conn=conn, problem_id=p.id) == [t1.number, t2.number,
                                                                  t3.number]
    t4 = ticket(conn, "R-B1", MON + 3 * DAY, POLICY, kind="servo_alarm_50")
    assert istore.problem_tickets(conn=conn, problem_id=p.id)[-1] == t4.number
    assert some(istore.get_problem(conn=conn, problem_id=p.id)).customers == 2
    p = common.act(conn=conn, problem_id=p.id, event="record_capa", actor="qm:wu",
                   now=MON + 5 * DAY, policy=POLICY, corrective="new servo firmware",
                   preventive="firmware check at commissioning")
    assert p.state == "capa" and p.verify_due == MON + 35 * DAY
    with pytest.raises(EventRefused, match="verified from"):
        common.act(conn=conn, problem_id=p.id, event="verify", actor="qm:wu",
                   now=MON + 6 * DAY, policy=POLICY, verification="too early")
    p = common.act(conn=conn, problem_id=p.id, event="verify", actor="qm:wu",
                   now=MON + 36 * DAY, policy=POLICY, verification="no alarm 50 in 30 days")
    assert p.state == "verified" and p.verified_at == MON + 36 * DAY


def test_two_customers_make_a_common_problem_and_manual_reports_never_do(conn):
    ticket(conn, "R-A1", MON, POLICY, kind="cable_fault")
    ticket(conn, "R-B1", MON + H, POLICY, kind="cable_fault")
    assert [p.kind for p in istore.list_problems(conn=conn)] == ["cable_fault"]
    for robot in ("R-A1", "R-A2", "R-B1"):
        ticket(conn, robot, MON + 2 * H, POLICY, kind="customer_report")
    assert [p.kind for p in istore.list_problems(conn=conn)] == ["cable_fault"]


def test_quality_control_draws_ten_percent_reproducibly_and_records_results(conn):
    ids = []
    for n in range(12):
        t = ticket(conn, ("R-A1", "R-A2", "R-A3", "R-B1")[n % 4], MON + n * H, POLICY,
                   kind=f"kind_{n}", impact="minor")
        complete(conn, t.id, MON + n * H, POLICY)
        ids.append(t.id)
    d = quality.run_draw(conn=conn, since=MON, until=MON + DAY, seed=2026, actor="qm:wu",
                         now=MON + 2 * DAY, policy=POLICY)
    checks = istore.draw_checks(conn=conn, draw_id=d.id)
    assert d.population == 12 and len(checks) == 2          # ceil(10 % of 12)
    assert [c.ticket_id for c in checks] == quality.draw(ids, share=0.1, seed=2026)
    again = quality.run_draw(conn=conn, since=MON, until=MON + DAY, seed=2026, actor="qm:wu",
                             now=MON + 2 * DAY, policy=POLICY)
    assert [c.ticket_id for c in istore.draw_checks(conn=conn, draw_id=again.id)] == \
        [c.ticket_id for c in checks]
    quality.record_check(conn=conn, draw_id=d.id, ticket_id=checks[0].ticket_id, result="pass",
                         note="report complete", actor="qm:wu", now=MON + 3 * DAY)
    with pytest.raises(EventRefused):
        quality.record_check(conn=conn, draw_id=d.id, ticket_id=checks[0].ticket_id,
                             result="fail", note=None, actor="qm:wu", now=MON + 3 * DAY)
    outside = next(i for i in ids if i not in {c.ticket_id for c in checks})
    with pytest.raises(EventRefused):
        quality.record_check(conn=conn, draw_id=d.id, ticket_id=outside, result="pass",
                             note=None, actor="qm:wu", now=MON + 3 * DAY)
    got = {c.ticket_id: c.result for c in istore.draw_checks(conn=conn, draw_id=d.id)}
    assert got == {checks[0].ticket_id: "pass", checks[1].ticket_id: None}


def test_a_feedback_timer_that_cannot_fire_is_logged_postponed_and_costs_the_others_nothing(
        conn, caplog):
    good = new(conn, MON, kind="complaint", received=0 * H)
    bad = new(conn, MON, kind="complaint", received=0 * H)
    # A real database error for one record's history only (think: a broken row).
    conn.execute(f"""
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.feedback_id = {bad.id} AND NEW.actor = 'system' THEN
                RAISE EXCEPTION 'poisoned history';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON feedback_events
            FOR EACH ROW EXECUTE FUNCTION refuse_poison();""")
    caplog.set_level("ERROR", logger="ticketing.feedback.timers")
    fired = fire_due_feedback(conn=conn, now=MON + 12 * M, policy=POLICY)  # respond warnings
    assert [(f.feedback_id, f.action) for f in fired] == [(good.id, "warn")]
    failed = [r.getMessage() for r in caplog.records]
    assert len(failed) == 1 and "poisoned history" in failed[0] and "retried in" in failed[0]
    stuck = [t for t in tstore.timers_of(conn=conn, feedback_id=bad.id) if t.attempts]
    assert [(t.action, t.due_at, t.attempts) for t in stuck] == [("warn", MON + 13 * M, 1)]
    assert [e.event for e in fstore.feedback_events(conn=conn, feedback_id=bad.id)] == \
        ["registered"]
