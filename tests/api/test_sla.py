"""SLA status at read time: pure logic, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.sla import sla_status

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _status(now, **kw):
    args = {"respond_by": T0 + 2 * H, "resolve_by": T0 + 24 * H, "responded_at": None,
            "resolved_at": None, "closed_at": None}
    return sla_status(now=now, **{**args, **kw})


def test_running_clocks_count_down() -> None:
    s = _status(T0 + H)
    assert (s.respond_overdue, s.resolve_overdue) == (False, False)
    assert s.respond_remaining_s == 3600 and s.resolve_remaining_s == 23 * 3600


def test_passed_deadline_is_overdue_with_negative_remainder() -> None:
    s = _status(T0 + 3 * H)
    assert s.respond_overdue is True and s.respond_remaining_s == -3600
    assert s.resolve_overdue is False


def test_exactly_at_deadline_is_not_yet_overdue() -> None:
    assert _status(T0 + 2 * H).respond_overdue is False


def test_milestone_in_time_stops_clock_without_breach() -> None:
    s = _status(T0 + 30 * H, responded_at=T0 + H, resolved_at=T0 + 20 * H)
    assert (s.respond_overdue, s.resolve_overdue) == (False, False)
    assert s.respond_remaining_s is None and s.resolve_remaining_s is None


def test_late_milestone_stays_a_breach() -> None:
    s = _status(T0 + 40 * H, responded_at=T0 + 3 * H, resolved_at=T0 + 30 * H)
    assert (s.respond_overdue, s.resolve_overdue) == (True, True)


def test_closing_stops_the_resolve_clock() -> None:
    s = _status(T0 + 30 * H, responded_at=T0 + H, closed_at=T0 + 10 * H)
    assert s.resolve_overdue is False and s.resolve_remaining_s is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _status(datetime(2026, 11, 21, 8, 0))
