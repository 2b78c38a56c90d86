"""A ticket's SLA state as the API shows it, and the urgency order of the ticket board.

Both come from :func:`ticketing.sla.sla_state` (``ticketing.clocks`` decides what is
overdue), so the colour a ticket shows and its place in the urgency order never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from ticketing.clocks import MILESTONES, Deadlines
from ticketing.sla import SlaState, sla_state

__all__ = ["TicketTimes", "sla_of", "urgency_key", "by_urgency"]

# Grade I is the most urgent; an unknown grade sorts after the known ones.
_GRADE_RANK = {"I": 0, "II": 1, "III": 2, "IV": 3}


class TicketTimes(Protocol):
    """What the SLA state is computed from (``storage.tickets.TicketRow`` and
    ``TicketClocks`` both have it)."""

    @property
    def id(self) -> int: ...
    @property
    def grade(self) -> str: ...
    @property
    def respond_by(self) -> datetime: ...
    @property
    def onsite_by(self) -> datetime | None: ...
    @property
    def plan_by(self) -> datetime | None: ...
    @property
    def resolve_by(self) -> datetime: ...
    @property
    def update_every(self) -> timedelta | None: ...
    @property
    def responded_at(self) -> datetime | None: ...
    @property
    def onsite_at(self) -> datetime | None: ...
    @property
    def plan_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def paused_since(self) -> datetime | None: ...


def sla_of(row: TicketTimes, *, now: datetime) -> SlaState:
    """Every clock of the ticket at ``now``."""
    met = {m: getattr(row, m, None) for m in MILESTONES.values()}
    # A ticket closed without a resolution (cancelled, merged) has stopped its resolve clock.
    met["resolved_at"] = row.resolved_at or row.closed_at
    return sla_state(
        deadlines=Deadlines(respond_by=row.respond_by, onsite_by=row.onsite_by,
                            plan_by=row.plan_by, resolve_by=row.resolve_by,
                            update_every=row.update_every),
        met=met, now=now, paused_since=row.paused_since,
    )


def urgency_key(row: TicketTimes, *, now: datetime) -> tuple[int, int, float, int, int]:
    """Smaller is more urgent: open before closed, then breached (any clock overdue) first,
    then the least time left on a running clock (none running: last), then the grade, then
    the oldest ticket (lowest id)."""
    sla = sla_of(row, now=now)
    running = [c.remaining_s for c in sla.clocks if c.remaining_s is not None]
    return (
        0 if row.closed_at is None else 1,
        0 if sla.overdue else 1,
        min(running) if running else float("inf"),
        _GRADE_RANK.get(row.grade, len(_GRADE_RANK)),
        row.id,
    )


def by_urgency(rows: Iterable[TicketTimes], *, now: datetime) -> list[int]:
    """The ids of ``rows``, most urgent first (:func:`urgency_key`)."""
    return [r.id for r in sorted(rows, key=lambda r: urgency_key(r, now=now))]
