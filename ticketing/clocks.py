"""SLA clocks, pure: which clocks a ticket runs, and when each will warn, breach and escalate.

A clock has an allowed time counted in a calendar (24x7 or working days, ``ticketing.calendar``)
from its start. Its plan is a list of timers: a warning at the policy's share of the allowed
time, the breach at the deadline (for the confirm clock: a re-dispatch), then each rung of the
escalation ladder, each ``after`` the previous one in the rung's own calendar.

Waiting for the customer pauses a clock: what was left (in the clock's calendar) is kept and
counted again from the resume (``paused``, ``resumed``). A deadline already passed when the
pause began stays where it was: waiting does not excuse a miss that happened before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketing.calendar import Calendar
from ticketing.errors import MissingDetail
from ticketing.policy import CalendarKind, ClockName, EscalationStep, Policy

__all__ = ["ClockSpec", "PlannedTimer", "Plan", "sla_clocks", "process_clock",
           "final_update_clock", "extended_resolve", "plan_clock", "ladder", "left_at",
           "paused", "resumed", "DEADLINE_COLUMNS", "SLA_CLOCKS", "Deadlines", "MILESTONES",
           "overdue"]

# The ticket columns that show a clock's current deadline (read by the API).
DEADLINE_COLUMNS: dict[str, str] = {"respond": "respond_by", "onsite": "onsite_by",
                                    "plan": "plan_by", "resolve": "resolve_by"}
# The grade's clocks (service rules section 3); a regrade recomputes exactly these.
SLA_CLOCKS: tuple[ClockName, ...] = ("respond", "onsite", "plan", "resolve", "update")

# Read side (``ticketing.sla``): deadline column -> the milestone that stops it.
MILESTONES = {"respond_by": "responded_at", "onsite_by": "onsite_at", "plan_by": "plan_at",
              "resolve_by": "resolved_at"}

_ZERO = timedelta(0)


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadlines:
    """A ticket's current deadlines as its columns show them (read side)."""

    respond_by: datetime
    onsite_by: datetime | None
    plan_by: datetime | None
    resolve_by: datetime
    update_every: timedelta | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSpec:
    name: ClockName
    allowed: timedelta
    calendar: CalendarKind
    escalates: bool
    on_breach: str = "breach"  # or "reassign": the confirm clock re-dispatches


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedTimer:
    action: str   # warn, breach, reassign, escalate
    due_at: datetime
    calendar: CalendarKind
    step: int = 0
    to: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    due_at: datetime
    timers: tuple[PlannedTimer, ...]


def _spec(policy: Policy, name: ClockName, allowed: timedelta) -> ClockSpec:
    return ClockSpec(name=name, allowed=allowed, calendar=policy.timers.calendar,
                     escalates=name in policy.escalation.clocks,
                     on_breach="reassign" if name == "confirm" else "breach")


def sla_clocks(*, policy: Policy, grade: str, tier: str) -> dict[ClockName, ClockSpec]:
    """The grade's clocks for a customer of ``tier``; a clock the grade lacks is absent."""
    row = policy.clock_for(grade=grade, tier=tier)
    found: dict[ClockName, timedelta | None] = {
        "respond": row.respond, "onsite": row.onsite, "plan": row.plan, "resolve": row.resolve,
        "update": row.update_every}
    return {name: _spec(policy, name, allowed) for name, allowed in found.items()
            if allowed is not None}


def process_clock(*, policy: Policy, name: ClockName, outside_city: bool = False) -> ClockSpec:
    """``dispatch`` (from intake or a refusal) or ``confirm`` (from each dispatch).
    ``outside_city``: nobody is on duty in the robot's city, so dispatch allows the policy's
    ``dispatch_outside_city`` when it has one."""
    allowed = {"dispatch": policy.process.dispatch, "confirm": policy.process.confirm}[name]
    if name == "dispatch" and outside_city and policy.process.dispatch_outside_city:
        allowed = policy.process.dispatch_outside_city
    return _spec(policy, name, allowed)


def final_update_clock(*, policy: Policy) -> ClockSpec:
    """The one update owed at completion by a grade without a cadence."""
    return _spec(policy, "final_update", policy.timers.completion_update)


def extended_resolve(*, policy: Policy, grade: str, tier: str, reason: str | None) -> ClockSpec:
    """The resolve clock after the policy's allowed extension (grade IV: 4 h -> 8 h)."""
    row = policy.clock_for(grade=grade, tier=tier)
    if row.resolve_extended is None:
        raise MissingDetail(f"grade {grade} has no resolve extension in policy {policy.label}")
    if reason is None or not reason.strip():
        raise MissingDetail("extending the resolve clock needs a reason told to the customer")
    return _spec(policy, "resolve", row.resolve_extended)


def ladder(
    steps: tuple[EscalationStep, ...], *, breach_at: datetime,
    calendars: Callable[[str], Calendar],
) -> list[PlannedTimer]:
    """The escalation timers of a clock breached at ``breach_at``."""
    out: list[PlannedTimer] = []
    at = breach_at
    for s in steps:
        at = calendars(s.calendar).add(at, s.after)
        out.append(PlannedTimer(action="escalate", due_at=at, calendar=s.calendar, step=s.level,
                                to=s.to, role=s.role))
    return out


def plan_clock(
    spec: ClockSpec, *, now: datetime, spent: timedelta, policy: Policy,
    calendars: Callable[[str], Calendar],
) -> Plan:
    """Deadline and timers of a clock that has used ``spent`` of its time by ``now``.

    A warning whose moment is already past is left out (a late warning is noise); a breach or
    rung already past is kept and fires at once: it did happen.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    cal = calendars(spec.calendar)
    due = cal.add(now, spec.allowed - spent)
    timers: list[PlannedTimer] = []
    warn_point = spec.allowed * policy.timers.warn_share
    if warn_point > spent:
        timers.append(PlannedTimer(action="warn", due_at=cal.add(now, warn_point - spent),
                                   calendar=spec.calendar))
    timers.append(PlannedTimer(action=spec.on_breach, due_at=due, calendar=spec.calendar))
    if spec.escalates and spec.on_breach == "breach":
        timers.extend(ladder(policy.escalation.steps, breach_at=due, calendars=calendars))
    return Plan(due_at=due, timers=tuple(timers))


def left_at(
    cal: Calendar, *, now: datetime, due_at: datetime | None, paused_left: timedelta | None
) -> timedelta:
    """Counted time a clock has left at ``now`` (negative once overdue)."""
    if due_at is None:
        if paused_left is None:
            raise ValueError("a clock has either a deadline or a paused remainder")
        return paused_left
    return cal.elapsed(now, due_at)


def paused(cal: Calendar, *, at: datetime, due_at: datetime) -> timedelta | None:
    """What a deadline keeps when a pause begins at ``at``; None: already passed, stays."""
    return cal.elapsed(at, due_at) if due_at > at else None


def resumed(cal: Calendar, *, at: datetime, left: timedelta) -> datetime:
    """The deadline after a resume at ``at`` with ``left`` counted time to go."""
    if left < _ZERO:
        raise ValueError(f"a paused clock cannot have {left} left")
    return cal.add(at, left)


def overdue(
    *,
    deadlines: Deadlines,
    now: datetime,
    met: Mapping[str, datetime | None] | None = None,
    paused_since: datetime | None = None,
) -> list[str]:
    """Names of the deadlines missed at ``now``, most urgent first.

    ``met`` maps a milestone (``responded_at``, ``onsite_at``, ``plan_at``, ``resolved_at``) to
    when it happened; a milestone met late still counts as missed. While paused, the clock
    stands at ``paused_since``.
    """
    _aware("now", now)
    met = met or {}
    clock_now = min(now, paused_since) if paused_since is not None else now
    missed: list[tuple[datetime, str]] = []
    for name, milestone in MILESTONES.items():
        due: datetime | None = getattr(deadlines, name)
        if due is None:
            continue
        done = met.get(milestone)
        if (done is not None and done > due) or (done is None and clock_now > due):
            missed.append((due, name))
    return [name for _, name in sorted(missed)]
