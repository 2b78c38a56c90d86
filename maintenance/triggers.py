"""When a plan falls due, by each of its three triggers. Pure and clock-free: every function
takes the instants it needs, so tests (and the long-horizon benchmark) drive time themselves.

* calendar: ``every_days`` / ``every_months`` after the last completion, moved forward to a
  fixed weekday when the rule names one;
* usage: the counter reading at the last completion plus ``every``, turned into an instant
  with the counter's recent rate;
* condition: the health index below the policy's level (due at once), or the remaining useful
  life's lower band minus the lead time needed for parts and travel.

Each answers a :class:`Due`: the instant and the reason a person can read.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from maintenance.policy import CalendarRule, ConditionRule, UsageRule

__all__ = ["Due", "CounterReading", "HealthReading", "add_months", "calendar_due", "usage_due",
           "counter_rate", "condition_due", "earliest"]

Trigger = Literal["calendar", "usage", "condition"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    at: datetime
    trigger: Trigger
    reason: str
    # Condition only: what moved it (the health trend and the RUL band), for the API.
    detail: dict[str, float | str | None] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterReading:
    at: datetime
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthReading:
    """One health / RUL estimate of a component, as detection stores it (seconds)."""

    at: datetime
    component: str
    kind: str
    health: float
    rul_s: float | None
    rul_low_s: float | None
    rul_high_s: float | None


def _aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def add_months(t: datetime, months: int) -> datetime:
    """``t`` moved ``months`` calendar months on; the day is clamped to the month's length
    (31 January + 1 month = 28/29 February)."""
    m = t.month - 1 + months
    year, month = t.year + m // 12, m % 12 + 1
    return t.replace(year=year, month=month, day=min(t.day, _cal.monthrange(year, month)[1]))


def calendar_due(rule: CalendarRule, *, last: datetime) -> Due:
    _aware("last", last)
    if rule.every_days is not None:
        at, what = last + timedelta(days=rule.every_days), f"every {rule.every_days} days"
    else:
        months = rule.every_months or 0
        at, what = add_months(last, months), f"every {months} months"
    if rule.weekday is not None:
        at += timedelta(days=(rule.weekday - at.weekday()) % 7)
        what += f", on weekday {rule.weekday}"
    return Due(at=at, trigger="calendar", reason=f"calendar: {what} since {last:%Y-%m-%d}")


def counter_rate(readings: Sequence[CounterReading]) -> float | None:
    """Counter units per hour between the first and last reading; None when it cannot be told
    (fewer than two readings, no time between them, or a counter that went back: a reset)."""
    if len(readings) < 2:
        return None
    first, last = readings[0], readings[-1]
    hours = (last.at - first.at).total_seconds() / 3600
    if hours <= 0 or last.value < first.value:
        return None
    return (last.value - first.value) / hours


def usage_due(rule: UsageRule, *, at_last: float, now: CounterReading,
              rate_per_h: float | None) -> Due | None:
    """When the counter reaches ``at_last + every``; None when the robot is not running
    (no rate) and the limit is not reached yet."""
    left = at_last + rule.every - now.value
    what = f"usage: every {rule.every:g} {rule.counter}, {now.value - at_last:.0f} since last"
    if left <= 0:
        return Due(at=now.at, trigger="usage", reason=f"{what}: reached")
    if not rate_per_h or rate_per_h <= 0:
        return None
    at = now.at + timedelta(hours=left / rate_per_h)
    return Due(at=at, trigger="usage", reason=f"{what}, {rate_per_h:.3g}/h: reached {at:%Y-%m-%d}")


def condition_due(rule: ConditionRule, readings: Sequence[HealthReading]) -> Due | None:
    """Due by condition from one component's estimates (oldest first); None when healthy and
    no RUL band is known. The reason carries the health trend over ``rule.trend_days`` and the
    RUL band that moved the date."""
    if not readings:
        return None
    last = readings[-1]
    _aware("reading.at", last.at)
    since = last.at - timedelta(days=rule.trend_days)
    first = next((r for r in readings if r.at >= since), last)
    lead = timedelta(hours=rule.lead_time_h)
    detail: dict[str, float | str | None] = {
        "component": last.component, "kind": last.kind, "health": last.health,
        "health_before": first.health, "trend_since": first.at.isoformat(),
        "rul_h": None if last.rul_s is None else round(last.rul_s / 3600, 1),
        "rul_low_h": None if last.rul_low_s is None else round(last.rul_low_s / 3600, 1),
        "rul_high_h": None if last.rul_high_s is None else round(last.rul_high_s / 3600, 1),
        "lead_time_h": rule.lead_time_h}
    trend = (f"{last.component} {last.kind}: health {first.health:.2f} -> {last.health:.2f} "
             f"since {first.at:%Y-%m-%d %H:%M}")
    candidates: list[Due] = []
    if last.health < rule.health_below:
        candidates.append(Due(at=last.at, trigger="condition", detail=detail,
                              reason=f"condition: {trend}, below {rule.health_below:g}"))
    if last.rul_low_s is not None:
        at = last.at + timedelta(seconds=last.rul_low_s) - lead
        band = (f"RUL {detail['rul_low_h']}..{detail['rul_high_h']} h "
                f"(lower band - lead {rule.lead_time_h:g} h)")
        candidates.append(Due(at=at, trigger="condition", detail=detail,
                              reason=f"condition: {trend}, {band}"))
    return earliest(candidates)


def earliest(dues: Sequence[Due | None]) -> Due | None:
    """The earliest of ``dues`` (ties: the first given), None when there is none."""
    out: Due | None = None
    for d in dues:
        if d is not None and (out is None or d.at < out.at):
            out = d
    return out
