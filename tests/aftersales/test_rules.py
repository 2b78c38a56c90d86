"""The pure after-sales rules: policy sections, the feedback lifecycle, deadlines in working
days, extensions, the common-problem rule and the quality-control draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.aftersales.scenario import some
from ticketing.calendar import ALWAYS, Calendar, WorkingDays
from ticketing.errors import EventRefused, MissingDetail, PolicyError
from ticketing.feedback import rules as R
from ticketing.feedback.lifecycle import FEEDBACK_STATES, check_feedback_event
from ticketing.improvement.quality import draw, draw_size
from ticketing.improvement.recurrence import Spread, is_common
from ticketing.policy import Policy, builtin_policy, parse_toml

POLICY = builtin_policy("default")
RULES = R.rules_of(POLICY)
CALLBACKS, IMPROVEMENT = some(POLICY.callbacks), some(POLICY.improvement)
# Monday 2026-11-23 09:00 in Shanghai; no Chinese public holiday in the weeks after it.
MON = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
CAL = WorkingDays(tz="Asia/Shanghai", country="CN")


def cal(kind: str) -> Calendar:
    return CAL if kind == "working" else ALWAYS


def test_every_shipped_policy_has_the_after_sales_sections_and_seed003_calls_back_in_24h():
    assert RULES.routing["product_quality"] == "production/technical"
    assert RULES.complaint.respond.allowed == timedelta(minutes=15)
    seed003 = builtin_policy("seed003").callbacks
    assert seed003 is not None and seed003.within.allowed == timedelta(hours=24)
    assert seed003.within.calendar == "24x7"
    assert CALLBACKS.within.calendar == "working"
    assert IMPROVEMENT.qc_share == 0.1


def test_a_policy_section_refuses_unknown_keys_and_missing_routes():
    text = builtin_policy_text()
    with pytest.raises(PolicyError, match="feedback.typo"):
        parse_toml(text.replace("[feedback]\n", "[feedback]\ntypo = 1\n", 1), "t", Policy,
                   what="policy")
    with pytest.raises(PolicyError, match="routing has no department for other"):
        parse_toml(text.replace('other = "customer service"\n', "", 1), "t", Policy,
                   what="policy")
    with pytest.raises(PolicyError, match="low_score"):
        parse_toml(text.replace("low_score = 3", "low_score = 9", 1), "t", Policy,
                   what="policy")


def builtin_policy_text() -> str:
    from importlib import resources
    return resources.files("ticketing.policies").joinpath("default.toml").read_text("utf-8")


def test_lifecycle_walks_and_refuses():
    assert FEEDBACK_STATES == ("received", "routing", "processing", "rectifying", "completed",
                               "archived")
    assert check_feedback_event(state="received", event="route", department="x") == "routing"
    assert check_feedback_event(state="routing", event="confirm") == "processing"
    assert check_feedback_event(state="processing", event="rectify", plan="p") == "rectifying"
    assert check_feedback_event(state="rectifying", event="complete", result="r") == "completed"
    assert check_feedback_event(state="completed", event="archive") == "archived"
    with pytest.raises(EventRefused):
        check_feedback_event(state="received", event="complete", result="r")
    with pytest.raises(MissingDetail, match="department"):
        check_feedback_event(state="received", event="route")
    with pytest.raises(MissingDetail, match="new date"):
        check_feedback_event(state="processing", event="request_extension", reason="r")
    with pytest.raises(MissingDetail, match="notice"):
        check_feedback_event(state="processing", event="approve_extension")
    with pytest.raises(EventRefused):
        check_feedback_event(state="archived", event="revisit", message="m")


def test_opening_clocks_by_urgency_and_kind():
    names = {u: [(s.name, s.allowed, s.calendar, s.escalates)
                 for s in R.opening_clocks(RULES, kind="feedback", urgency=u)]
             for u in ("urgent", "general", "complex")}
    assert names["urgent"] == [("plan", 24 * timedelta(hours=1), "24x7", True),
                               ("solve", 72 * timedelta(hours=1), "24x7", True)]
    assert names["general"] == [("plan", 3 * DAY, "working", True),
                                ("solve", 7 * DAY, "working", True)]
    assert names["complex"] == [("plan", 5 * DAY, "working", True)]
    assert [s.name for s in R.opening_clocks(RULES, kind="complaint", urgency="general")] == \
        ["respond", "answer"]


def test_registration_later_than_one_working_day_is_flagged_weekends_do_not_count():
    fri = MON - 3 * DAY + timedelta(hours=6)   # Friday 15:00 local
    # Monday 14:00 is 9 + 14 = 23 working hours later; Monday 16:00 is 25.
    assert not R.registered_late(RULES, cal, received_at=fri, registered_at=MON + 5 * HOUR)
    assert R.registered_late(RULES, cal, received_at=fri, registered_at=MON + 7 * HOUR)
    with pytest.raises(MissingDetail):
        R.registered_late(RULES, cal, received_at=MON, registered_at=MON - DAY)


def test_an_extension_is_asked_at_least_one_working_day_before_its_deadline():
    due = MON + 2 * DAY    # Wednesday 09:00 local
    R.check_extension(RULES, cal, now=MON + DAY, due=due, new_due=due + DAY)  # exactly 1 wd
    with pytest.raises(EventRefused, match="before the deadline"):
        R.check_extension(RULES, cal, now=MON + DAY + timedelta(minutes=1), due=due,
                          new_due=due + DAY)
    with pytest.raises(MissingDetail, match="not after"):
        R.check_extension(RULES, cal, now=MON, due=due, new_due=due)
    # Friday 12:00 -> Monday 09:00 is less than a working day, although 69 h away.
    with pytest.raises(EventRefused):
        R.check_extension(RULES, cal, now=MON - 3 * DAY + timedelta(hours=3),
                          due=MON, new_due=MON + DAY)


def test_revisits_and_routing():
    assert R.needs_revisit(RULES, urgency="complex", major=False)
    assert R.needs_revisit(RULES, urgency="urgent", major=True)
    assert not R.needs_revisit(RULES, urgency="general", major=False)
    assert R.department_for(RULES, "cross_department").startswith("customer service")
    assert R.target_clock(["confirm", "plan", "solve"]) == "solve"
    with pytest.raises(EventRefused):
        R.target_clock(["tell"])


@given(robots=st.integers(0, 10), customers=st.integers(0, 10))
def test_common_problem_rule(robots: int, customers: int):
    customers = min(customers, robots)  # a customer counts only with a robot of its own
    assert is_common(IMPROVEMENT, Spread(robots, customers)) == (
        robots >= 3 or customers >= 2)


@given(ids=st.sets(st.integers(1, 10_000), max_size=300),
       share=st.floats(0.01, 1.0), seed=st.integers(0, 2**63 - 1))
def test_qc_draw_is_at_least_the_share_reproducible_and_drawn_from_the_population(
        ids: set[int], share: float, seed: int):
    chosen = draw(ids, share=share, seed=seed)
    assert set(chosen) <= ids
    assert len(chosen) == len(set(chosen)) == draw_size(len(ids), share)
    assert len(chosen) >= share * len(ids) - 1e-9
    assert len(chosen) < share * len(ids) + 1
    assert draw(sorted(ids, reverse=True), share=share, seed=seed) == chosen


def test_qc_draw_of_ten_percent():
    assert draw_size(0, 0.1) == 0
    assert draw_size(10, 0.1) == 1
    assert draw_size(11, 0.1) == 2
    assert draw(range(1, 21), share=0.1, seed=7) == draw(range(1, 21), share=0.1, seed=7)
    assert draw(range(1, 21), share=0.1, seed=7) != draw(range(1, 21), share=0.1, seed=8) or \
        draw(range(1, 21), share=0.1, seed=9) != draw(range(1, 21), share=0.1, seed=7)


@given(start_h=st.integers(0, 24 * 14), now_h=st.integers(0, 24 * 14),
       new_h=st.integers(1, 24 * 28))
def test_an_approved_extension_lands_on_the_asked_date_in_working_time(
        start_h: int, now_h: int, new_h: int):
    """``FeedbackBook.move``: allowed = working time from the start to the new date, spent =
    working time so far; the new deadline is the new date, or the end of the working time
    before it when the date falls on a weekend (nothing is counted in between)."""
    start = MON + start_h * HOUR
    now = start + now_h * HOUR
    new_due = now + new_h * HOUR
    allowed = CAL.elapsed(start, new_due)
    spent = CAL.elapsed(start, now)
    got = CAL.add(now, allowed - spent)
    assert got <= new_due and CAL.elapsed(got, new_due) == timedelta(0)
