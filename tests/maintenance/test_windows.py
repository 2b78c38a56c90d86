"""Maintenance windows: inspections go in the nights, Sundays, holidays and planned stops,
never in production."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maintenance.errors import NoWindow
from maintenance.policy import PlannedStop, ShiftDef, SiteWindows
from maintenance.windows import SiteCalendar

SH = ZoneInfo("Asia/Shanghai")
TWO_SHIFTS = SiteWindows(production=(ShiftDef(weekdays=(0, 1, 2, 3, 4, 5), start=time(6),
                                               end=time(22)),))


def test_an_inspection_waits_for_the_night():
    cal = SiteCalendar(TWO_SHIFTS)
    # Tuesday 10:00 local: production until 22:00.
    slot = cal.slot(after=datetime(2026, 3, 3, 10, tzinfo=SH), duration=timedelta(hours=2),
                    search=timedelta(days=7))
    assert slot.start == datetime(2026, 3, 3, 22, tzinfo=SH)
    assert slot.end == datetime(2026, 3, 4, 0, tzinfo=SH)


def test_a_long_inspection_goes_to_sunday():
    cal = SiteCalendar(TWO_SHIFTS)
    # 10 h does not fit a night (22:00-06:00): Saturday 22:00 to Monday 06:00 is the first.
    slot = cal.slot(after=datetime(2026, 3, 3, 10, tzinfo=SH), duration=timedelta(hours=10),
                    search=timedelta(days=14))
    assert slot.start == datetime(2026, 3, 7, 22, tzinfo=SH)


def test_a_public_holiday_is_a_window():
    cal = SiteCalendar(TWO_SHIFTS)
    # 1 October (National Day) is a Thursday in 2026: no production that day.
    slot = cal.slot(after=datetime(2026, 10, 1, 8, tzinfo=SH), duration=timedelta(hours=6),
                    search=timedelta(days=3))
    assert slot.start == datetime(2026, 10, 1, 8, tzinfo=SH)
    assert not cal.is_production(datetime(2026, 10, 1, 12, tzinfo=SH))
    assert cal.is_production(datetime(2026, 9, 30, 12, tzinfo=SH))


def test_a_customer_working_day_overrides_the_holiday_table():
    from datetime import date
    w = TWO_SHIFTS.model_copy(update={"working_days": (date(2026, 10, 1),)})
    assert SiteCalendar(w).is_production(datetime(2026, 10, 1, 12, tzinfo=SH))


def test_a_planned_stop_opens_a_window_inside_a_shift():
    stop = PlannedStop(start=datetime(2026, 3, 4, 9, tzinfo=SH),
                       end=datetime(2026, 3, 4, 13, tzinfo=SH), reason="die change")
    cal = SiteCalendar(TWO_SHIFTS.model_copy(update={"planned_stops": (stop,)}))
    slot = cal.slot(after=datetime(2026, 3, 4, 7, tzinfo=SH), duration=timedelta(hours=3),
                    search=timedelta(days=2))
    assert slot.start == stop.start


def test_nothing_fits_raises_no_window():
    always = SiteWindows(holidays=None, production=(ShiftDef(weekdays=tuple(range(7)),
                                                            start=time(0), end=time(0)),))
    with pytest.raises(NoWindow):
        SiteCalendar(always).slot(after=datetime(2026, 3, 3, tzinfo=UTC),
                                  duration=timedelta(hours=1), search=timedelta(days=10))


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1),
                    timezones=st.just(UTC)),
       st.integers(1, 16 * 4).map(lambda q: timedelta(minutes=15 * q)),
       st.lists(st.integers(0, 6), min_size=1, max_size=6, unique=True),
       st.integers(0, 23), st.integers(1, 20))
def test_a_slot_never_touches_production(after, duration, days, start_h, hours):
    shift = ShiftDef(weekdays=tuple(days), start=time(start_h),
                     end=time((start_h + hours) % 24))
    cal = SiteCalendar(SiteWindows(production=(shift,)))
    slot = cal.slot(after=after, duration=duration, search=timedelta(days=30))
    assert slot.start >= after and slot.end - slot.start == duration
    assert not any(p.start < slot.end and slot.start < p.end
                   for p in cal.production(slot.start, slot.end))
    # The earliest: no fitting window starts before it.
    for w in cal.free(after, slot.start):
        assert w.end - w.start < duration or w.start >= slot.start
