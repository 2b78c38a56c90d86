"""SLA clocks: deadlines from the acceptance instant, pauses while waiting for the customer,
overdue detection. Pure functions over timezone-aware datetimes; clocks run 24x7.

A pause does not change the rules, it moves the deadlines: when the ticket resumes, every
deadline still ahead moves later by the paused time (``shifted``). While a ticket is paused,
the clock is frozen at the pause instant, so nothing becomes overdue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ticketing.errors import MissingDetail
from ticketing.policy import ClockRow

__all__ = ["Deadlines", "Pause", "deadlines_for", "shifted", "extended_resolve_by",
           "paused_total", "overdue", "next_update_due", "MILESTONES"]

# Deadline name -> the milestone that stops it.
MILESTONES = {"respond_by": "responded_at", "onsite_by": "onsite_at", "plan_by": "plan_at",
              "resolve_by": "resolved_at"}


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadlines:
    respond_by: datetime
    onsite_by: datetime | None
    plan_by: datetime | None
    resolve_by: datetime
    update_every: timedelta | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    started_at: datetime
    ended_at: datetime | None
    reason: str


def deadlines_for(*, clock: ClockRow, accepted_at: datetime) -> Deadlines:
    """The deadlines of a ticket accepted at ``accepted_at`` under ``clock``."""
    _aware("accepted_at", accepted_at)

    def at(d: timedelta | None) -> datetime | None:
        return accepted_at + d if d is not None else None

    return Deadlines(
        respond_by=accepted_at + clock.respond,
        onsite_by=at(clock.onsite),
        plan_by=at(clock.plan),
        resolve_by=accepted_at + clock.resolve,
        update_every=clock.update_every,
    )


def shifted(deadlines: Deadlines, *, by: timedelta, paused_at: datetime) -> Deadlines:
    """Deadlines after a pause of ``by`` that began at ``paused_at``.

    A deadline already passed when the pause began stays where it was: waiting for the
    customer does not excuse a miss that happened before.
    """
    _aware("paused_at", paused_at)
    if by < timedelta(0):
        raise ValueError(f"a pause cannot last {by}")

    def move(d: datetime | None) -> datetime | None:
        return d + by if d is not None and d > paused_at else d

    return replace(
        deadlines,
        respond_by=move(deadlines.respond_by),  # type: ignore[arg-type]
        onsite_by=move(deadlines.onsite_by),
        plan_by=move(deadlines.plan_by),
        resolve_by=move(deadlines.resolve_by),  # type: ignore[arg-type]
    )


def extended_resolve_by(
    *, clock: ClockRow, accepted_at: datetime, paused: timedelta, reason: str
) -> datetime:
    """The resolve deadline after the policy's allowed extension (grade IV: 4 h -> 8 h)."""
    _aware("accepted_at", accepted_at)
    if clock.resolve_extended is None:
        raise MissingDetail(f"grade {clock.grade} has no resolve extension in this policy")
    if not reason.strip():
        raise MissingDetail("extending the resolve clock needs a reason told to the customer")
    return accepted_at + clock.resolve_extended + paused


def paused_total(pauses: Iterable[Pause], *, now: datetime) -> timedelta:
    """Time spent paused; an open pause counts up to ``now``."""
    _aware("now", now)
    total = timedelta(0)
    for p in pauses:
        _aware("pause start", p.started_at)
        end = p.ended_at or now
        if end < p.started_at:
            raise ValueError(f"pause ends {end.isoformat()} before it starts "
                             f"{p.started_at.isoformat()}")
        total += end - p.started_at
    return total


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


def next_update_due(
    *, deadlines: Deadlines, accepted_at: datetime, last_update: datetime | None
) -> datetime | None:
    """When the customer is owed the next progress update; None: only at completion."""
    if deadlines.update_every is None:
        return None
    return (last_update or accepted_at) + deadlines.update_every
