"""Planning and scheduling with a chosen "now": bundling, assignment, rescheduling when a
window or an engineer disappears, and an inspection moved earlier by a falling RUL."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maintenance.planner import Completion, RobotInfo, RobotState, due_items
from maintenance.policy import PlannedStop, builtin_policy
from maintenance.scheduler import moves, parts_request, schedule
from maintenance.triggers import CounterReading, HealthReading, add_months
from maintenance.windows import SiteCalendar
from storage.fleet import EngineerSpec
from ticketing.roster import Absence, Roster, ShiftDef, TeamRota

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 9, tzinfo=SH)  # a Monday
SINCE = NOW - timedelta(days=400)
POLICY = builtin_policy()
ROBOTS = [
    RobotInfo(code="R1", customer="acme", site="s1", city="Suzhou", model="KR210",
              in_service_since=SINCE),
    RobotInfo(code="R2", customer="acme", site="s1", city="Suzhou", model="KR210",
              in_service_since=SINCE),
    RobotInfo(code="R3", customer="acme", site="s2", city="Wuxi", model="KR210",
              in_service_since=SINCE),
]
ENGINEERS = [
    EngineerSpec(code="li", name="Li", city="Suzhou", skills=("mechanical", "calibration")),
    EngineerSpec(code="wang", name="Wang", city="Wuxi", skills=("mechanical",)),
]


def _done(days_ago: dict[str, float]):
    """Every plan of every robot last completed ``days_ago[robot]`` days before now."""
    return {(r.code, p): Completion(at=NOW - timedelta(days=days_ago[r.code]))
            for r in ROBOTS if r.code in days_ago for p in POLICY.plans}


def test_hardware_falls_due_a_month_after_its_completion():
    items = due_items(policy=POLICY, robots=ROBOTS[:1], completions=_done({"R1": 10}),
                      states={})
    hw = next(i for i in items if i.plan == "hardware")
    assert hw.due.trigger == "calendar"
    assert hw.due.at == add_months(NOW - timedelta(days=10), 1)


def test_usage_counts_from_the_completion_counters():
    done = _done({"R1": 10})
    done[("R1", "hardware")] = Completion(at=NOW - timedelta(days=10),
                                          counters={"operating_hours": 1000.0})
    state = RobotState(counters={"operating_hours": [
        CounterReading(at=NOW - timedelta(days=1), value=1460.0),
        CounterReading(at=NOW, value=1480.0)]})
    items = due_items(policy=POLICY, robots=ROBOTS[:1], completions=done, states={"R1": state})
    hw = next(i for i in items if i.plan == "hardware")
    # 20 h left at 20 h/day: tomorrow, before the calendar's month.
    assert hw.due.trigger == "usage" and hw.due.at == NOW + timedelta(days=1)
    only_calendar = due_items(policy=POLICY, robots=ROBOTS[:1], completions=done,
                              states={"R1": state}, triggers={"calendar"})
    assert next(i for i in only_calendar if i.plan == "hardware").due.trigger == "calendar"


def test_a_falling_rul_moves_the_inspection_earlier_and_says_why():
    done = _done({"R1": 5})
    health = [HealthReading(at=NOW - timedelta(days=2), component="J3", kind="vibration_high",
                            health=0.8, rul_s=30 * 86400, rul_low_s=20 * 86400,
                            rul_high_s=40 * 86400),
              HealthReading(at=NOW, component="J3", kind="vibration_high", health=0.6,
                            rul_s=9 * 86400, rul_low_s=5 * 86400, rul_high_s=12 * 86400)]
    before = due_items(policy=POLICY, robots=ROBOTS[:1], completions=done,
                       states={"R1": RobotState(health={"J3": health[:1]})})
    after = due_items(policy=POLICY, robots=ROBOTS[:1], completions=done,
                      states={"R1": RobotState(health={"J3": health})})
    hw0 = next(i for i in before if i.plan == "hardware")
    hw1 = next(i for i in after if i.plan == "hardware")
    assert hw1.due.at == NOW + timedelta(days=5) - timedelta(hours=72)
    assert hw1.due.at < hw0.due.at
    assert hw1.due.trigger == "condition"
    assert hw1.moved_from == add_months(NOW - timedelta(days=5), 1)
    assert "health 0.80 -> 0.60" in hw1.due.reason and "RUL 120.0..288.0 h" in hw1.due.reason
    # Only the plans that watch condition move: software keeps its calendar date.
    sw = next(i for i in after if i.plan == "software")
    assert sw.due.trigger == "calendar"
    # The plan diff carries the reason to the API.
    v0, _ = schedule(policy=POLICY, items=before, robots=ROBOTS, now=NOW, engineers=ENGINEERS)
    v1, _ = schedule(policy=POLICY, items=after, robots=ROBOTS, now=NOW, engineers=ENGINEERS)
    mv = [m for m in moves(v0, v1) if m.plan == "hardware"]
    assert mv and "RUL" in mv[0].reason


def test_estimates_older_than_the_completion_are_not_read_again():
    done = _done({"R1": 1})
    old = [HealthReading(at=NOW - timedelta(days=2), component="J3", kind="vibration_high",
                         health=0.3, rul_s=86400.0, rul_low_s=3600.0, rul_high_s=7200.0)]
    items = due_items(policy=POLICY, robots=ROBOTS[:1], completions=done,
                      states={"R1": RobotState(health={"J3": old})})
    assert next(i for i in items if i.plan == "hardware").due.trigger == "calendar"


def test_inspections_due_at_one_site_share_a_visit_placed_at_night():
    done = _done({"R1": 26, "R2": 24, "R3": 25})
    items = [i for i in due_items(policy=POLICY, robots=ROBOTS, completions=done, states={})
             if i.plan == "hardware"]
    visits, unplaced = schedule(policy=POLICY, items=items, robots=ROBOTS, now=NOW,
                                engineers=ENGINEERS)
    assert not unplaced
    by_site = {v.site: v for v in visits}
    assert sorted(i.robot for i in by_site["s1"].items) == ["R1", "R2"]
    assert [i.robot for i in by_site["s2"].items] == ["R3"]
    s1 = by_site["s1"].slot
    assert s1.end - s1.start == timedelta(hours=4)
    assert s1.start.astimezone(SH).hour >= 22 or s1.start.astimezone(SH).weekday() == 6
    # Same city first: Li for Suzhou, Wang for Wuxi.
    assert by_site["s1"].engineer == "li" and by_site["s2"].engineer == "wang"


def test_only_items_within_create_ahead_become_visits():
    done = _done({"R1": 1, "R2": 1, "R3": 1})
    items = due_items(policy=POLICY, robots=ROBOTS, completions=done, states={})
    visits, _ = schedule(policy=POLICY, items=items, robots=ROBOTS, now=NOW, engineers=ENGINEERS)
    assert visits == []


def test_rescheduled_when_the_engineer_disappears():
    done = _done({"R1": 26, "R2": 24, "R3": 60})
    items = [i for i in due_items(policy=POLICY, robots=ROBOTS, completions=done, states={})
             if i.plan == "hardware"]
    before, _ = schedule(policy=POLICY, items=items, robots=ROBOTS, now=NOW, engineers=ENGINEERS)
    after, _ = schedule(policy=POLICY, items=items, robots=ROBOTS, now=NOW,
                        engineers=ENGINEERS[1:])
    mv = {m.robot: m for m in moves(before, after)}
    assert mv["R1"].engineer_before == "li" and mv["R1"].engineer_after == "wang"
    assert "engineer li -> wang" in mv["R1"].reason
    # Wang cannot be at both sites the same night: R3's visit moves to a later window.
    r3 = mv["R3"]
    assert r3.after is not None and r3.before is not None
    assert r3.engineer_after == "wang" and r3.after.start > r3.before.start
    assert "window moved" in mv["R3"].reason


def test_an_absent_engineer_per_the_roster_is_not_assigned():
    roster = Roster(teams=(TeamRota(name="field", role="engineer", epoch=date(2026, 1, 1),
                                    shifts=(ShiftDef(name="day", start=time(0), end=time(0)),),
                                    crews=(("li", "wang"),)),),
                    absences=(Absence(person="li", start=NOW, end=NOW + timedelta(days=30)),))
    done = _done({"R1": 26, "R2": 24, "R3": 10})
    items = [i for i in due_items(policy=POLICY, robots=ROBOTS, completions=done, states={})
             if i.plan == "hardware"]
    visits, _ = schedule(policy=POLICY, items=items, robots=ROBOTS, now=NOW,
                         engineers=ENGINEERS, roster=roster)
    assert {v.engineer for v in visits} == {"wang"}


def test_rescheduled_when_a_window_disappears():
    stop = PlannedStop(start=datetime(2026, 3, 4, 8, tzinfo=SH),
                       end=datetime(2026, 3, 4, 14, tzinfo=SH))
    with_stop = POLICY.model_copy(update={"sites": {"s1": POLICY.windows.model_copy(
        update={"planned_stops": (stop,)})}})
    done = _done({"R1": 30, "R2": 29, "R3": 5})
    items = [i for i in due_items(policy=POLICY, robots=ROBOTS, completions=done, states={})
             if i.plan == "hardware"]
    wednesday_7am = NOW + timedelta(days=2, hours=-2)
    before, _ = schedule(policy=with_stop, items=items, robots=ROBOTS, now=wednesday_7am,
                         engineers=ENGINEERS)
    s1 = next(v for v in before if v.site == "s1")
    assert s1.slot.start == stop.start  # the planned stop was the first window
    after, _ = schedule(policy=POLICY, items=items, robots=ROBOTS, now=wednesday_7am,
                        engineers=ENGINEERS)
    mv = {m.robot: m for m in moves(before, after)}
    moved = mv["R1"].after
    assert moved is not None and moved.start == datetime(2026, 3, 4, 22, tzinfo=SH)
    assert mv["R1"].reason == "the maintenance window moved"


def test_parts_request_sums_the_checklists():
    done = _done({"R1": 200, "R2": 200, "R3": 200})
    items = [i for i in due_items(policy=POLICY, robots=ROBOTS[:2], completions=done, states={})
             if i.plan == "full_service"]
    req = {p.part: p.quantity for p in parts_request(POLICY, items)}
    assert req == {"GREASE-400": 4}


def test_unknown_trigger_is_refused():
    with pytest.raises(ValueError):
        due_items(policy=POLICY, robots=ROBOTS, completions={}, states={}, triggers={"moon"})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.floats(-20, 14)),
                min_size=1, max_size=12),
       st.integers(0, 2))
def test_visits_stay_at_one_site_fit_a_shift_and_never_double_book(robots, n_engineers):
    fleet = [RobotInfo(code=f"X{n}", customer="acme", site=site, city="Suzhou",
                       in_service_since=SINCE) for n, (site, _) in enumerate(robots)]
    done = {(f"X{n}", "hardware"): Completion(at=NOW - timedelta(days=30 - ahead))
            for n, (_, ahead) in enumerate(robots)}
    items = [i for i in due_items(policy=POLICY, robots=fleet, completions=done, states={})
             if i.plan == "hardware"]
    visits, unplaced = schedule(policy=POLICY, items=items, robots=fleet, now=NOW,
                                engineers=ENGINEERS[:n_engineers])
    site_of = {r.code: r.site for r in fleet}
    cal = SiteCalendar(POLICY.windows)
    assert not unplaced
    placed = [i for v in visits for i in v.items]
    assert len(placed) == len({(i.robot, i.plan) for i in placed})
    for v in visits:
        assert {site_of[i.robot] for i in v.items} == {v.site}
        assert v.slot.end - v.slot.start <= timedelta(hours=POLICY.scheduling.max_visit_h)
        assert not cal.production(v.slot.start, v.slot.end)
        assert v.slot.start >= NOW
    booked = [v for v in visits if v.engineer is not None]
    for a in booked:
        for b in booked:
            if a is not b and a.engineer == b.engineer:
                assert a.slot.end <= b.slot.start or b.slot.end <= a.slot.start
