"""The plan: which inspection of which robot falls due when, and why. Pure.

For each robot, the plans of its customer's package that fit its model fall due at the
earliest of their triggers (:mod:`maintenance.triggers`), counted from the plan's last
completion (or the robot's start of service). ``triggers`` switches triggers off, which is how
the benchmark compares calendar-only, calendar + usage and all three planners on one fleet.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from maintenance.policy import COUNTERS, MaintenancePolicy
from maintenance.triggers import (
    CounterReading,
    Due,
    HealthReading,
    calendar_due,
    condition_due,
    counter_rate,
    earliest,
    usage_due,
)

__all__ = ["RobotInfo", "Completion", "RobotState", "PlanItem", "due_items", "counters_now",
           "ALL_TRIGGERS"]

ALL_TRIGGERS = frozenset({"calendar", "usage", "condition"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotInfo:
    code: str
    customer: str
    site: str
    city: str | None = None
    brand: str | None = None
    model: str | None = None
    in_service_since: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """The last completed inspection of one plan on one robot, and its counters then."""

    at: datetime
    counters: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotState:
    """What the telemetry and detection say now: recent counter readings (oldest first) and
    the health / RUL estimates of each watched component (oldest first)."""

    counters: Mapping[str, Sequence[CounterReading]] = field(default_factory=dict)
    health: Mapping[str, Sequence[HealthReading]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanItem:
    robot: str
    plan: str
    due: Due
    # The calendar/usage date the condition moved it from (None when not moved).
    moved_from: datetime | None = None


def _usage(policy: MaintenancePolicy, plan: str, last: Completion,
           state: RobotState) -> Due | None:
    rule = policy.plans[plan].usage
    if rule is None:
        return None
    readings = state.counters.get(rule.counter, ())
    if not readings:
        return None
    # Counters restart from the completion: before any completion was recorded with
    # counters, the first reading in the window stands in for it.
    at_last = last.counters.get(rule.counter, readings[0].value)
    return usage_due(rule, at_last=at_last, now=readings[-1], rate_per_h=counter_rate(readings))


def _condition(policy: MaintenancePolicy, last: Completion, state: RobotState) -> Due | None:
    # Only estimates after the last completion: the inspection has seen the older ones.
    return earliest([condition_due(policy.condition, [r for r in rs if r.at > last.at])
                     for rs in state.health.values()])


def due_items(
    *,
    policy: MaintenancePolicy,
    robots: Sequence[RobotInfo],
    completions: Mapping[tuple[str, str], Completion],
    states: Mapping[str, RobotState],
    triggers: Collection[str] = ALL_TRIGGERS,
) -> list[PlanItem]:
    """The next due date of every plan of every robot, earliest first."""
    unknown = set(triggers) - ALL_TRIGGERS
    if unknown:
        raise ValueError(f"unknown triggers {sorted(unknown)}; have {sorted(ALL_TRIGGERS)}")
    out: list[PlanItem] = []
    empty = RobotState()
    for robot in robots:
        state = states.get(robot.code, empty)
        for name in policy.plans_of(robot.customer, robot.model):
            plan = policy.plans[name]
            last = completions.get((robot.code, name), Completion(at=robot.in_service_since))
            regular = earliest([
                calendar_due(plan.calendar, last=last.at)
                if plan.calendar and "calendar" in triggers else None,
                _usage(policy, name, last, state) if "usage" in triggers else None])
            cond = (_condition(policy, last, state)
                    if plan.condition and "condition" in triggers else None)
            due = earliest([regular, cond])
            if due is None:
                continue
            moved = regular.at if (due is cond and regular is not None) else None
            out.append(PlanItem(robot=robot.code, plan=name, due=due, moved_from=moved))
    return sorted(out, key=lambda i: (i.due.at, i.robot, i.plan))


def counters_now(state: RobotState) -> dict[str, float]:
    """The latest reading of each counter: what a completion records."""
    return {c: state.counters[c][-1].value for c in COUNTERS if state.counters.get(c)}
