"""SLA state at read time, as the API shows it: ticketing.sla over the ticket's deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketing.clocks import Deadlines
from ticketing.sla import sla_state

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)

DEADLINES = Deadlines(respond_by=T0 + 2 * H, onsite_by=T0 + 4 * H, plan_by=T0 + 6 * H,
                      resolve_by=T0 + 24 * H, update_every=4 * H)


def _state(now, paused_since=None, **met):
    return sla_state(deadlines=DEADLINES, met=met, now=now, paused_since=paused_since)


def test_running_clocks_count_down() -> None:
    s = _state(T0 + H)
    assert s.overdue == [] and not s.paused
    assert [c.name for c in s.clocks] == ["respond_by", "onsite_by", "plan_by", "resolve_by"]
    assert s.clock("respond_by").remaining_s == 3600
    assert s.clock("resolve_by").remaining_s == 23 * 3600


def test_passed_deadline_is_overdue_with_negative_remainder() -> None:
    s = _state(T0 + 3 * H)
    assert s.overdue == ["respond_by"]
    assert s.clock("respond_by").remaining_s == -3600


def test_exactly_at_deadline_is_not_yet_overdue() -> None:
    assert _state(T0 + 2 * H).overdue == []


def test_milestone_in_time_stops_clock_without_breach() -> None:
    s = _state(T0 + 30 * H, responded_at=T0 + H, onsite_at=T0 + 2 * H, plan_at=T0 + 5 * H,
               resolved_at=T0 + 20 * H)
    assert s.overdue == []
    assert all(c.remaining_s is None for c in s.clocks)


def test_late_milestone_stays_a_breach() -> None:
    s = _state(T0 + 30 * H, responded_at=T0 + 3 * H, resolved_at=T0 + 20 * H)
    assert "respond_by" in s.overdue and "resolve_by" not in s.overdue


def test_paused_ticket_is_not_overdue_and_its_clocks_stand_still() -> None:
    # Waiting for the customer from T0 + 1 h: hours later nothing has turned overdue and the
    # remaining time is what it was at the pause (the rules stop the clocks).
    s = _state(T0 + 30 * H, paused_since=T0 + H, responded_at=T0 + H / 2)
    assert s.paused
    assert s.overdue == []
    assert s.clock("resolve_by").remaining_s == 23 * 3600
    assert s.clock("onsite_by").remaining_s == 3 * 3600


def test_miss_before_the_pause_still_counts() -> None:
    s = _state(T0 + 30 * H, paused_since=T0 + 3 * H)
    assert s.overdue == ["respond_by"]
