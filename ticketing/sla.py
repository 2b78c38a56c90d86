"""The SLA state of a ticket at one instant, as every reader shows it (API, console, stream).

One truth: the deadlines are the ticket's (set and moved by ``ticketing.deadlines`` from the
policy), and what counts as missed is :func:`ticketing.clocks.overdue`: a milestone met late
stays a breach, and while the ticket waits for the customer its clocks stand still at the
pause instant, so nothing turns overdue during a pause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ticketing.clocks import MILESTONES, Deadlines, overdue

__all__ = ["ClockState", "SlaState", "sla_state"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockState:
    name: str  # respond_by, onsite_by, plan_by, resolve_by
    due: datetime
    met_at: datetime | None
    overdue: bool
    # Seconds left on the clock (negative once passed) while it runs; frozen during a pause;
    # None once its milestone is met.
    remaining_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaState:
    clocks: tuple[ClockState, ...]
    paused: bool

    def clock(self, name: str) -> ClockState | None:
        return next((c for c in self.clocks if c.name == name), None)

    @property
    def overdue(self) -> list[str]:
        return [c.name for c in self.clocks if c.overdue]


def sla_state(
    *,
    deadlines: Deadlines,
    met: Mapping[str, datetime | None],
    now: datetime,
    paused_since: datetime | None = None,
) -> SlaState:
    """The state of every clock the ticket has at ``now``.

    ``met`` maps milestones (``responded_at``, ``onsite_at``, ``plan_at``, ``resolved_at``) to
    when they happened. ``paused_since`` is when the current wait for the customer began.
    """
    missed = set(overdue(deadlines=deadlines, now=now, met=met, paused_since=paused_since))
    clock_now = min(now, paused_since) if paused_since is not None else now
    clocks = []
    for name, milestone in MILESTONES.items():
        due: datetime | None = getattr(deadlines, name)
        if due is None:
            continue
        done = met.get(milestone)
        clocks.append(ClockState(
            name=name, due=due, met_at=done, overdue=name in missed,
            remaining_s=None if done is not None else (due - clock_now).total_seconds(),
        ))
    return SlaState(clocks=tuple(clocks), paused=paused_since is not None)
