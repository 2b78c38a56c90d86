"""SLA clocks: deadlines of each grade/tier row of seed 000, pauses, extension, overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ticketing.clocks import (
    Pause,
    deadlines_for,
    extended_resolve_by,
    next_update_due,
    overdue,
    paused_total,
    shifted,
)
from ticketing.errors import MissingDetail
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
T0 = datetime(2026, 11, 21, 23, 50, tzinfo=UTC)  # late evening: clocks run through midnight
M, H = timedelta(minutes=1), timedelta(hours=1)

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
def test_deadlines_per_grade_and_tier(grade, tier, respond, onsite, plan, resolve, update):
    d = deadlines_for(clock=POLICY.clock_for(grade=grade, tier=tier), accepted_at=T0)
    assert d.respond_by == T0 + respond
    assert d.onsite_by == (T0 + onsite if onsite else None)
    assert d.plan_by == (T0 + plan if plan else None)
    assert d.resolve_by == T0 + resolve
    assert d.update_every == update


def test_deadlines_keep_the_callers_offset_and_instant():
    shanghai = timezone(timedelta(hours=8))
    local = T0.astimezone(shanghai)
    d = deadlines_for(clock=POLICY.clock_for(grade="I", tier="core"), accepted_at=local)
    assert d.resolve_by == T0 + 24 * H


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadlines_for(clock=POLICY.clock_for(grade="I", tier="core"),
                      accepted_at=T0.replace(tzinfo=None))


def test_pause_moves_only_deadlines_still_ahead():
    d = deadlines_for(clock=POLICY.clock_for(grade="II", tier="core"), accepted_at=T0)
    paused_at = T0 + 1 * H  # respond_by (30 min) already passed
    moved = shifted(d, by=3 * H, paused_at=paused_at)
    assert d.onsite_by is not None and d.plan_by is not None  # grade II has both
    assert moved.respond_by == d.respond_by
    assert moved.onsite_by == d.onsite_by + 3 * H
    assert moved.plan_by == d.plan_by + 3 * H
    assert moved.resolve_by == d.resolve_by + 3 * H
    with pytest.raises(ValueError):
        shifted(d, by=-H, paused_at=paused_at)


def test_paused_total_counts_open_pause_to_now():
    pauses = [Pause(started_at=T0, ended_at=T0 + H, reason="customer away"),
              Pause(started_at=T0 + 2 * H, ended_at=None, reason="line stopped for audit")]
    assert paused_total(pauses, now=T0 + 2 * H + 30 * M) == 90 * M
    with pytest.raises(ValueError, match="before it starts"):
        paused_total([Pause(started_at=T0, ended_at=T0 - H, reason="x")], now=T0)


def test_grade_iv_extension_needs_a_reason_and_stops_at_8h():
    iv = POLICY.clock_for(grade="IV", tier="core")
    assert extended_resolve_by(clock=iv, accepted_at=T0, paused=30 * M,
                               reason="spare part in transit") == T0 + 8 * H + 30 * M
    with pytest.raises(MissingDetail, match="reason"):
        extended_resolve_by(clock=iv, accepted_at=T0, paused=timedelta(0), reason="  ")
    with pytest.raises(MissingDetail, match="no resolve extension"):
        extended_resolve_by(clock=POLICY.clock_for(grade="I", tier="core"), accepted_at=T0,
                            paused=timedelta(0), reason="x")


def test_overdue_detection():
    d = deadlines_for(clock=POLICY.clock_for(grade="II", tier="core"), accepted_at=T0)
    assert overdue(deadlines=d, now=T0 + 29 * M) == []
    assert overdue(deadlines=d, now=T0 + 31 * M) == ["respond_by"]
    # Responded in time: only the later deadlines can be missed.
    met = {"responded_at": T0 + 10 * M}
    assert overdue(deadlines=d, now=T0 + 5 * H, met=met) == ["onsite_by", "plan_by"]
    # A milestone met late stays a miss.
    assert overdue(deadlines=d, now=T0 + 5 * H, met={"responded_at": T0 + 40 * M,
                                                    "onsite_at": T0 + H, "plan_at": T0 + H}) \
        == ["respond_by"]
    done = {"responded_at": T0, "onsite_at": T0, "plan_at": T0, "resolved_at": T0 + 47 * H}
    assert overdue(deadlines=d, now=T0 + 100 * H, met=done) == []


def test_paused_ticket_does_not_become_overdue():
    d = deadlines_for(clock=POLICY.clock_for(grade="IV", tier="core"), accepted_at=T0)
    met = {"responded_at": T0 + M}
    assert overdue(deadlines=d, now=T0 + 10 * H, met=met, paused_since=T0 + H) == []
    assert overdue(deadlines=d, now=T0 + 10 * H, met=met, paused_since=T0 + 5 * H) == [
        "resolve_by"]


def test_next_update_due():
    d = deadlines_for(clock=POLICY.clock_for(grade="I", tier="core"), accepted_at=T0)
    assert next_update_due(deadlines=d, accepted_at=T0, last_update=None) == T0 + 2 * H
    assert next_update_due(deadlines=d, accepted_at=T0, last_update=T0 + 3 * H) == T0 + 5 * H
    iv = deadlines_for(clock=POLICY.clock_for(grade="IV", tier="core"), accepted_at=T0)
    assert next_update_due(deadlines=iv, accepted_at=T0, last_update=None) is None
