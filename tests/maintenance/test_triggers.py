"""Plan arithmetic of the three triggers, with instants the test chooses (no clock)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maintenance.policy import CalendarRule, ConditionRule, UsageRule
from maintenance.triggers import (
    CounterReading,
    HealthReading,
    add_months,
    calendar_due,
    condition_due,
    counter_rate,
    usage_due,
)

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                        timezones=st.just(UTC))
RULE = ConditionRule(health_below=0.5, lead_time_h=72.0, trend_days=3.0)


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 3) == datetime(2027, 2, 15, tzinfo=UTC)


@given(instants, st.integers(1, 40))
def test_add_months_moves_whole_months(t, n):
    out = add_months(t, n)
    assert (out.year * 12 + out.month) - (t.year * 12 + t.month) == n
    assert out.day <= t.day and out.time() == t.time()


@given(instants, st.integers(1, 400))
def test_every_n_days(last, n):
    due = calendar_due(CalendarRule(every_days=n), last=last)
    assert due.at - last == timedelta(days=n)
    assert due.trigger == "calendar" and f"every {n} days" in due.reason


@given(instants, st.integers(1, 60), st.integers(0, 6))
def test_fixed_weekday_moves_forward_less_than_a_week(last, n, weekday):
    plain = calendar_due(CalendarRule(every_days=n), last=last).at
    due = calendar_due(CalendarRule(every_days=n, weekday=weekday), last=last).at
    assert due.weekday() == weekday
    assert timedelta(0) <= due - plain < timedelta(days=7)


def test_calendar_needs_exactly_one_period():
    with pytest.raises(ValueError):
        CalendarRule(every_days=7, every_months=1)
    with pytest.raises(ValueError):
        CalendarRule()


@given(st.floats(0, 1e6), st.floats(1, 1e5), st.floats(0, 1e5), st.floats(0.01, 1e3))
def test_usage_due_is_when_the_counter_reaches_the_limit(at_last, every, used, rate):
    now = datetime(2026, 3, 1, tzinfo=UTC)
    reading = CounterReading(at=now, value=at_last + used)
    due = usage_due(UsageRule(counter="cycle_count", every=every), at_last=at_last, now=reading,
                    rate_per_h=rate)
    assert due is not None and due.trigger == "usage"
    if used >= every:
        assert due.at == now
    else:
        projected = reading.value + rate * (due.at - now).total_seconds() / 3600
        assert projected == pytest.approx(at_last + every, rel=1e-6, abs=1e-3)


def test_a_stopped_robot_is_not_due_by_usage_until_it_reaches_the_limit():
    now = datetime(2026, 3, 1, tzinfo=UTC)
    rule = UsageRule(counter="operating_hours", every=500)
    assert usage_due(rule, at_last=0, now=CounterReading(at=now, value=100), rate_per_h=None) \
        is None
    reached = usage_due(rule, at_last=0, now=CounterReading(at=now, value=600),
                        rate_per_h=None)
    assert reached is not None and reached.at == now


def test_counter_rate_and_a_reset_counter():
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    r = [CounterReading(at=t0, value=100), CounterReading(at=t0 + timedelta(hours=10), value=150)]
    assert counter_rate(r) == 5.0
    assert counter_rate(r[:1]) is None
    assert counter_rate([r[1], CounterReading(at=t0 + timedelta(hours=20), value=3)]) is None


def _reading(at, health, rul_low_h, rul_h=None):
    return HealthReading(at=at, component="J3", kind="vibration_high", health=health,
                         rul_s=(rul_h or rul_low_h * 2) * 3600, rul_low_s=rul_low_h * 3600,
                         rul_high_s=rul_low_h * 4 * 3600)


@given(instants, st.floats(0.51, 1.0), st.floats(1, 5000))
def test_condition_due_leaves_the_lead_time_before_the_lower_band(at, health, low_h):
    due = condition_due(RULE, [_reading(at, health, low_h)])
    assert due is not None and due.trigger == "condition"
    assert due.at == at + timedelta(hours=low_h) - timedelta(hours=72)
    assert "RUL" in due.reason and due.detail is not None
    assert due.detail["rul_low_h"] == round(low_h, 1)


def test_condition_due_at_once_below_the_health_level_with_the_trend():
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    readings = [_reading(t0, 0.9, 900), _reading(t0 + timedelta(days=2), 0.45, 800)]
    due = condition_due(RULE, readings)
    assert due is not None and due.detail is not None
    assert due.at == t0 + timedelta(days=2)
    assert "health 0.90 -> 0.45" in due.reason and "below 0.5" in due.reason
    assert due.detail["health_before"] == 0.9


def test_no_condition_without_estimates_or_a_band():
    assert condition_due(RULE, []) is None
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    quiet = HealthReading(at=t0, component="J1", kind="x", health=0.9, rul_s=None,
                          rul_low_s=None, rul_high_s=None)
    assert condition_due(RULE, [quiet]) is None


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        calendar_due(CalendarRule(every_days=1), last=datetime(2026, 1, 1))
