"""Clock arithmetic, by property: working days, public holidays, time zones (one with daylight
saving), pauses, and runs that continue another (reassignment, regrade) keep their deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketing.calendar import ALWAYS, Calendar, WorkingDays
from ticketing.clocks import ClockSpec, paused, plan_clock, resumed
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
H = timedelta(hours=1)
ZONES = ("Asia/Shanghai", "Europe/Berlin")

instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1),
                        timezones=st.just(UTC))
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))
extra_days = st.frozensets(st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 3, 1)),
                           max_size=40)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    if draw(st.booleans()):
        return ALWAYS
    return WorkingDays(
        tz=draw(st.sampled_from(ZONES)), country=draw(st.sampled_from(("CN", "DE", None))),
        workdays=draw(st.frozensets(st.integers(1, 7), min_size=1)),
        extra_holidays=draw(extra_days))


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), start=instants, span=spans, backwards=st.booleans())
def test_add_and_elapsed_are_inverse(cal, start, span, backwards):
    d = -span if backwards else span
    end = cal.add(start, d)
    assert cal.elapsed(start, end) == d
    assert (end > start) if d > timedelta(0) else (end <= start)
    # The answer is the earliest instant of its count: asking again from it changes nothing.
    assert cal.add(end, timedelta(0)) == end


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), a=instants, b=instants, c=instants)
def test_elapsed_is_additive_and_never_more_than_real_time(cal, a, b, c):
    assert cal.elapsed(a, b) + cal.elapsed(b, c) == cal.elapsed(a, c)
    lo, hi = sorted((a, b))
    assert timedelta(0) <= cal.elapsed(lo, hi) <= hi - lo


@settings(max_examples=100, deadline=None)
@given(cal=calendars(), start=instants, s1=spans, s2=spans)
def test_add_is_monotone_and_composes(cal, start, s1, s2):
    assert cal.add(start, min(s1, s2)) <= cal.add(start, max(s1, s2))
    # Adding in two steps lands where adding the sum does (each answer is the earliest).
    assert cal.add(cal.add(start, s1), s2) == cal.add(start, s1 + s2)


@settings(max_examples=100, deadline=None)
@given(tz=st.sampled_from(ZONES), start=instants, span=spans.filter(lambda s: s > timedelta(0)),
       holidays=extra_days)
def test_deadlines_land_on_working_days(tz, start, span, holidays):
    cal = WorkingDays(tz=tz, country="CN", extra_holidays=holidays)
    end = cal.add(start, span)
    # The last counted instant is on a working day (the deadline itself may be its midnight).
    last = (end - timedelta(microseconds=1)).astimezone(cal_zone(tz)).date()
    assert cal.is_working(last)


def cal_zone(tz: str):
    from zoneinfo import ZoneInfo
    return ZoneInfo(tz)


@settings(max_examples=100, deadline=None)
@given(cal=calendars(), start=instants, allowed=spans.filter(lambda s: s > timedelta(0)),
       pauses=st.lists(st.tuples(st.timedeltas(min_value=timedelta(0),
                                               max_value=timedelta(days=10)),
                                 st.timedeltas(min_value=timedelta(0),
                                               max_value=timedelta(days=5))), max_size=4))
def test_pauses_add_exactly_the_paused_counted_time(cal, start, allowed, pauses):
    """Pause/resume as the clock book does; then the counted time from start to deadline,
    less the counted time spent paused before it, is exactly the allowed time."""
    due = cal.add(start, allowed)
    at = start
    paused_total = timedelta(0)
    for gap, length in pauses:
        p = at + gap
        r = p + length
        left = paused(cal, at=p, due_at=due)
        if left is None:
            break  # already breached when the pause began: stays where it was
        due = resumed(cal, at=r, left=left)
        paused_total += cal.elapsed(p, r)
        at = r
    assert cal.elapsed(start, due) - paused_total == allowed


@settings(max_examples=100, deadline=None)
@given(tz=st.sampled_from(ZONES), start=instants, later=spans,
       allowed=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=5)),
       kind=st.sampled_from(("24x7", "working")))
def test_a_run_continued_later_keeps_its_deadline(tz, start, later, allowed, kind):
    """A reassignment, a regrade to the same clocks or a restart re-plans a clock from what it
    has spent: the deadline and the breach do not move."""
    from ticketing.deadlines import calendars_of

    cals = calendars_of(policy=POLICY, tz=tz)
    spec = ClockSpec(name="resolve", allowed=allowed, calendar=kind, escalates=True)
    first = plan_clock(spec, now=start, spent=timedelta(0), policy=POLICY, calendars=cals)
    now = start + later
    again = plan_clock(spec, now=now, spent=cals(kind).elapsed(start, now), policy=POLICY,
                       calendars=cals)
    assert again.due_at == first.due_at
    breach = [t.due_at for t in again.timers if t.action == "breach"]
    assert breach == [first.due_at]
    assert [t.due_at for t in again.timers if t.action == "escalate"] == [
        t.due_at for t in first.timers if t.action == "escalate"]


# Examples a person can check on a calendar.
SH = "Asia/Shanghai"


def _local(tz: str, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=cal_zone(tz)).astimezone(UTC)


def test_three_working_days_from_friday_afternoon_end_wednesday():
    cal = WorkingDays(tz=SH)
    assert cal.add(_local(SH, 2026, 11, 20, 15), timedelta(days=3)) == _local(SH, 2026, 11, 25, 15)


def test_chinese_national_day_and_its_swapped_saturday():
    cal = WorkingDays(tz=SH)
    # 2026: Oct 1-7 off (Oct 4 is a Sunday), Saturday Oct 10 is worked instead.
    assert cal.add(_local(SH, 2026, 9, 30, 15), timedelta(days=1)) == _local(SH, 2026, 10, 8, 15)
    assert cal.is_working(date(2026, 10, 10)) and not cal.is_working(date(2026, 10, 11))
    assert cal.elapsed(_local(SH, 2026, 10, 1), _local(SH, 2026, 10, 8)) == timedelta(0)


def test_daylight_saving_day_counts_its_real_length():
    every_day = frozenset(range(1, 8))
    berlin = WorkingDays(tz="Europe/Berlin", country=None, workdays=every_day)
    spring = (_local("Europe/Berlin", 2026, 3, 29), _local("Europe/Berlin", 2026, 3, 30))
    autumn = (_local("Europe/Berlin", 2026, 10, 25), _local("Europe/Berlin", 2026, 10, 26))
    assert berlin.elapsed(*spring) == 23 * H
    assert berlin.elapsed(*autumn) == 25 * H
    # Mon-Fri in Berlin never meets a DST Sunday: a working week is 5 x 24 h either side.
    weekdays = WorkingDays(tz="Europe/Berlin", country="DE")
    assert weekdays.elapsed(_local("Europe/Berlin", 2026, 3, 27),
                            _local("Europe/Berlin", 2026, 4, 2)) == 4 * 24 * H


def test_the_same_instant_is_a_different_working_day_per_zone():
    # Friday 20:00 UTC is Saturday 04:00 in Shanghai (not working), Friday 21:00 in Berlin.
    t = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    assert WorkingDays(tz=SH).elapsed(t, t + 2 * H) == timedelta(0)
    assert WorkingDays(tz="Europe/Berlin", country="DE").elapsed(t, t + 2 * H) == 2 * H


def test_a_calendar_without_working_days_is_refused():
    from ticketing.errors import CalendarError

    with pytest.raises(CalendarError, match="workdays"):
        WorkingDays(tz=SH, workdays=frozenset())
