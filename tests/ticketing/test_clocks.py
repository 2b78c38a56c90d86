"""SLA clocks, pure: each grade/tier row of seed 000, the timer plan (warning, breach, ladder),
pauses, the grade IV extension, seed 004's working-day rung."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing.calendar import ALWAYS, WorkingDays
from ticketing.clocks import (
    ClockSpec,
    extended_resolve,
    final_update_clock,
    left_at,
    paused,
    plan_clock,
    process_clock,
    resumed,
    sla_clocks,
)
from ticketing.deadlines import calendars_of
from ticketing.errors import CalendarError, MissingDetail
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
SEED004 = builtin_policy("seed004")
T0 = datetime(2026, 11, 21, 23, 50, tzinfo=UTC)  # late evening: clocks run through midnight
M, H = timedelta(minutes=1), timedelta(hours=1)
CAL = calendars_of(policy=POLICY, tz="Asia/Shanghai")

# Service rules section 3: grade, tier -> respond, onsite, plan, resolve, update cadence.
TABLE = [
    ("I", "core", 15 * M, 1 * H, 2 * H, 24 * H, 2 * H),
    ("I", "important", 15 * M, 1 * H, 2 * H, 24 * H, 2 * H),
    ("I", "ordinary", 15 * M, 1 * H, 2 * H, 24 * H, 2 * H),
    ("II", "core", 30 * M, 2 * H, 4 * H, 48 * H, 4 * H),
    ("II", "important", 30 * M, 4 * H, 6 * H, 72 * H, 4 * H),
    ("III", "core", 1 * H, 2 * H, None, 24 * H, 12 * H),
    ("III", "important", 1 * H, 2 * H, None, 24 * H, 12 * H),
    ("III", "ordinary", 1 * H, 4 * H, None, 48 * H, 12 * H),
    ("IV", "core", 2 * H, None, None, 4 * H, None),
    ("IV", "important", 2 * H, None, None, 4 * H, None),
    ("IV", "ordinary", 2 * H, None, None, 4 * H, None),
]


@pytest.mark.parametrize(("grade", "tier", "respond", "onsite", "plan", "resolve", "update"), TABLE)
def test_clocks_per_grade_and_tier(grade, tier, respond, onsite, plan, resolve, update):
    specs = sla_clocks(policy=POLICY, grade=grade, tier=tier)
    expected = {"respond": respond, "onsite": onsite, "plan": plan, "resolve": resolve,
                "update": update}
    assert {n: s.allowed for n, s in specs.items()} == {
        n: v for n, v in expected.items() if v is not None}
    for name, spec in specs.items():
        due = plan_clock(spec, now=T0, spent=timedelta(0), policy=POLICY, calendars=CAL).due_at
        assert due == T0 + expected[name]


def test_process_clocks_and_completion_update():
    assert process_clock(policy=POLICY, name="dispatch").allowed == 15 * M
    confirm = process_clock(policy=POLICY, name="confirm")
    assert (confirm.allowed, confirm.on_breach) == (30 * M, "reassign")
    assert final_update_clock(policy=POLICY).allowed == H


def test_plan_warns_at_the_share_then_breaches_then_climbs_the_ladder():
    spec = sla_clocks(policy=POLICY, grade="I", tier="core")["resolve"]
    plan = plan_clock(spec, now=T0, spent=timedelta(0), policy=POLICY, calendars=CAL)
    assert [(t.action, t.step, t.due_at - T0) for t in plan.timers] == [
        ("warn", 0, timedelta(hours=24 * 0.8)), ("breach", 0, 24 * H),
        ("escalate", 2, 24 * H), ("escalate", 3, 26 * H), ("escalate", 4, 34 * H)]
    assert [t.to for t in plan.timers[2:]] == ["O&M manager", "after-sales department head",
                                               "senior management"]


def test_update_clock_warns_but_does_not_escalate():
    spec = sla_clocks(policy=POLICY, grade="II", tier="core")["update"]
    plan = plan_clock(spec, now=T0, spent=timedelta(0), policy=POLICY, calendars=CAL)
    assert [(t.action, t.due_at - T0) for t in plan.timers] == [
        ("warn", timedelta(hours=3.2)), ("breach", 4 * H)]


def test_confirm_clock_reassigns_instead_of_escalating():
    plan = plan_clock(process_clock(policy=POLICY, name="confirm"), now=T0,
                      spent=timedelta(0), policy=POLICY, calendars=CAL)
    assert [(t.action, t.due_at - T0) for t in plan.timers] == [
        ("warn", 24 * M), ("reassign", 30 * M)]


def test_a_clock_planned_late_skips_the_past_warning_but_keeps_the_breach():
    spec = sla_clocks(policy=POLICY, grade="I", tier="core")["respond"]
    plan = plan_clock(spec, now=T0, spent=20 * M, policy=POLICY, calendars=CAL)
    assert plan.due_at == T0 - 5 * M
    assert [t.action for t in plan.timers][:2] == ["breach", "escalate"]


def test_seed004_third_rung_counts_working_days_at_the_site():
    spec = sla_clocks(policy=SEED004, grade="I", tier="core")["respond"]
    assert spec.escalates and spec.allowed == 4 * H
    friday = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    cal = calendars_of(policy=SEED004, tz="Asia/Shanghai")
    plan = plan_clock(spec, now=friday, spent=timedelta(0), policy=SEED004, calendars=cal)
    rungs = {t.step: t.due_at for t in plan.timers if t.action == "escalate"}
    assert rungs[2] == friday + 4 * H                      # L2 at the breach, Friday 14:00
    assert rungs[3] == friday + 28 * H                     # L3 24 h later, Saturday 14:00
    # L4 three working days after Saturday 14:00 local: Mon, Tue, Wed -> Thursday 00:00.
    assert rungs[4] == datetime(2026, 11, 26, 0, 0, tzinfo=UTC) - 8 * H


def test_pause_keeps_what_was_left_and_a_passed_deadline_stays():
    due = T0 + 2 * H
    left = paused(ALWAYS, at=T0 + 30 * M, due_at=due)
    assert left == 90 * M
    assert resumed(ALWAYS, at=T0 + 5 * H, left=left) == T0 + 6 * H + 30 * M
    assert paused(ALWAYS, at=due + M, due_at=due) is None
    assert left_at(ALWAYS, now=T0, due_at=None, paused_left=7 * M) == 7 * M
    assert left_at(ALWAYS, now=due + M, due_at=due, paused_left=None) == -M
    with pytest.raises(ValueError):
        resumed(ALWAYS, at=T0, left=-M)
    with pytest.raises(ValueError):
        left_at(ALWAYS, now=T0, due_at=None, paused_left=None)


def test_grade_iv_extension_needs_a_reason_and_only_grade_iv_has_one():
    spec = extended_resolve(policy=POLICY, grade="IV", tier="core", reason="part on order")
    assert spec.allowed == 8 * H and spec.name == "resolve"
    with pytest.raises(MissingDetail, match="reason"):
        extended_resolve(policy=POLICY, grade="IV", tier="core", reason="  ")
    with pytest.raises(MissingDetail, match="no resolve extension"):
        extended_resolve(policy=POLICY, grade="II", tier="core", reason="x")


def test_working_calendar_needs_a_known_zone():
    spec = ClockSpec(name="resolve", allowed=H, calendar="working", escalates=False)
    bad = calendars_of(policy=POLICY, tz="Mars/Olympus")
    with pytest.raises(CalendarError, match="Mars/Olympus"):
        plan_clock(spec, now=T0, spent=timedelta(0), policy=POLICY, calendars=bad)
    with pytest.raises(CalendarError, match="country"):
        WorkingDays(tz="Asia/Shanghai", country="XX")


def test_naive_instants_are_refused():
    spec = sla_clocks(policy=POLICY, grade="I", tier="core")["respond"]
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_clock(spec, now=datetime(2026, 1, 1), spent=timedelta(0), policy=POLICY,
                   calendars=CAL)
