"""Working time from a ticket's lifecycle events, or as entered with the handling report, and
its charge: free in warranty, the policy's rate per started hour otherwise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from parts.labour import charge_for, labour_of
from parts.policy import builtin_policy

T0 = datetime(2026, 11, 23, 1, tzinfo=UTC)
M = timedelta(minutes=1)
POLICY = builtin_policy()


@dataclass(frozen=True)
class Ev:
    at: datetime
    event: str
    data: dict[str, Any] = field(default_factory=dict)


def _visit(report: dict[str, Any] | None = None) -> list[Ev]:
    """Travel 40 min, 90 min on site, the customer away 30 min, 20 more, resolved; disputed,
    10 min remote, resolved again."""
    return [Ev(T0, "dispatch"), Ev(T0 + 5 * M, "accept"), Ev(T0 + 10 * M, "start_travel"),
            Ev(T0 + 50 * M, "arrive"), Ev(T0 + 140 * M, "wait_customer"),
            Ev(T0 + 170 * M, "resume"), Ev(T0 + 190 * M, "resolve", {"report": report or {}}),
            Ev(T0 + 300 * M, "dispute"), Ev(T0 + 310 * M, "resolve", {"report": report or {}})]


def test_times_come_from_the_events() -> None:
    lab = labour_of(_visit())
    # Back after the dispute: the work goes on where it was (on site), 10 min.
    assert (lab.travel_min, lab.on_site_min, lab.remote_min, lab.source) == (40, 120, 0,
                                                                             "events")
    remote = labour_of([Ev(T0, "accept"), Ev(T0 + 2 * M, "start_remote"),
                        Ev(T0 + 47 * M, "resolve", {"report": {}})])
    assert (remote.remote_min, remote.total_min) == (45, 45)
    assert labour_of([Ev(T0, "create")]).source == "none"


def test_entered_minutes_win_and_bad_ones_are_refused_with_a_note() -> None:
    entered = labour_of(_visit({"labour": {"travel_min": 120, "on_site_min": 200}}))
    assert (entered.travel_min, entered.on_site_min, entered.remote_min,
            entered.source) == (120, 200, 0, "entered")
    for bad in ({"travel_min": -5}, {"on_site_min": "2h"}, {"remote_min": True}, "3 hours",
                {"travel_min": 10**6}):
        lab = labour_of(_visit({"labour": bad}))
        assert lab.source == "events" and lab.on_site_min == 120
        assert lab.note is not None and "events' times are used" in lab.note


def test_charged_out_of_warranty_per_started_hour_free_in_warranty() -> None:
    lab = labour_of(_visit())          # 160 min: 3 started hours
    out = charge_for(lab, in_warranty=False, policy=POLICY)
    assert (out.charged_min, out.amount, out.currency) == (160, Decimal("1050.00"), "CNY")
    free = charge_for(lab, in_warranty=True, policy=POLICY)
    assert (free.charged_min, free.amount) == (0, Decimal("0.00"))
    no_travel = POLICY.model_copy(update={"charges": POLICY.charges.model_copy(
        update={"charged_work": ("on_site", "remote")})})
    assert charge_for(lab, in_warranty=False, policy=no_travel).amount == Decimal("700.00")
