"""Engineers' working time on a ticket (service rules section 7: in warranty parts *and work*
are free, otherwise charged): travel, on-site and remote minutes, and what they cost.

The time comes from the ticket's lifecycle events, the engineer's own clicks: travel runs from
``start_travel`` to ``arrive``, on-site work from ``arrive`` and remote work from
``start_remote`` until ``resolve`` (or a pause: ``wait_customer``, or the ticket leaving the
engineer: ``refuse``, ``reassign``, ``cancel``, ``merge``); ``resume``, ``dispute`` and
``reopen`` take the work up again where it was. Where the engineer entered the time with the
handling report (``report.labour`` of the last ``resolve``: ``travel_min``, ``on_site_min``,
``remote_min``, whole minutes), that wins: the events cannot see a second trip or work done
before the ticket was touched. ``labour_of`` and ``charge_for`` are pure;
``ticket_labour`` reads a ticket's events and its robot's warranty and applies them (the
ticket archive shows its result: api/routers/archive.py, ``robowatch audit archive``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from parts.policy import PartsPolicy
from parts.warranty import quote, warranty_of
from storage.connect import Conn
from storage.parts import robot_warranty
from storage.tickets import TicketRow, ticket_events

__all__ = ["Work", "WORK", "Labour", "labour_of", "Charge", "charge_for", "TicketLabour",
           "ticket_labour"]

Work = Literal["travel", "on_site", "remote"]
WORK: tuple[Work, ...] = ("travel", "on_site", "remote")
# An entered figure above this is a typing slip, not a week of work on one report.
MAX_ENTERED_MIN = 7 * 24 * 60

_STARTS: dict[str, Work] = {"start_travel": "travel", "arrive": "on_site",
                            "start_remote": "remote"}
_STOPS = frozenset({"resolve", "wait_customer", "refuse", "reassign", "cancel", "merge"})
_RESUMES = frozenset({"resume", "dispute", "reopen"})


class _Event(Protocol):
    @property
    def at(self) -> datetime: ...
    @property
    def event(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Labour:
    travel_min: int
    on_site_min: int
    remote_min: int
    # "events" (from the lifecycle), "entered" (with the handling report) or "none"
    source: str
    note: str | None = None

    def minutes(self, work: Work) -> int:
        return {"travel": self.travel_min, "on_site": self.on_site_min,
                "remote": self.remote_min}[work]

    @property
    def total_min(self) -> int:
        return self.travel_min + self.on_site_min + self.remote_min


def _entered(report: object) -> tuple[dict[Work, int] | None, str | None]:
    """The minutes entered with a handling report, or why they cannot be used."""
    if not isinstance(report, Mapping) or "labour" not in report:
        return None, None
    raw = report["labour"]
    if not isinstance(raw, Mapping):
        return None, "entered labour is not a table of minutes; the events' times are used"
    out: dict[Work, int] = {}
    for work in WORK:
        v = raw.get(f"{work}_min", 0)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_ENTERED_MIN:
            return None, (f"entered {work}_min {v!r} is not 0 to {MAX_ENTERED_MIN} whole "
                          "minutes; the events' times are used")
        out[work] = v
    return out, None


def labour_of(events: Sequence[_Event]) -> Labour:
    """The working time of one ticket from its history (oldest first)."""
    spent: dict[Work, timedelta] = dict.fromkeys(WORK, timedelta())
    doing: Work | None = None
    since: datetime | None = None
    last_work: Work | None = None
    report: object = None
    for e in events:
        if doing is not None and since is not None and (
                e.event in _STARTS or e.event in _STOPS or e.event in _RESUMES):
            spent[doing] += e.at - since
            doing = None
        if e.event in _STARTS:
            doing, since = _STARTS[e.event], e.at
            if doing != "travel":
                last_work = doing
        elif e.event in _RESUMES and last_work is not None:
            doing, since = last_work, e.at
        if e.event == "resolve":
            report = e.data.get("report")
    entered, note = _entered(report)
    if entered is not None:
        return Labour(travel_min=entered["travel"], on_site_min=entered["on_site"],
                      remote_min=entered["remote"], source="entered")
    minutes = {w: int(spent[w].total_seconds() // 60) for w in WORK}
    return Labour(travel_min=minutes["travel"], on_site_min=minutes["on_site"],
                  remote_min=minutes["remote"],
                  source="events" if any(minutes.values()) else "none", note=note)


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    in_warranty: bool
    charged_min: int
    amount: Decimal
    currency: str


def charge_for(labour: Labour, *, in_warranty: bool, policy: PartsPolicy) -> Charge:
    """What the customer pays for the work: nothing in warranty; otherwise the policy's
    ``labour_rate`` per started hour of the kinds of work its ``charged_work`` lists."""
    minutes = sum(labour.minutes(w) for w in policy.charges.charged_work)
    q = quote(in_warranty=in_warranty, unit_price=Decimal(0), quantity=0,
              labour_minutes=minutes, policy=policy)
    return Charge(in_warranty=in_warranty, charged_min=0 if in_warranty else minutes,
                  amount=q.labour, currency=q.currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketLabour:
    """A ticket's working time and its charge, with the warranty it was judged by (the
    robot's, on the UTC day the ticket was resolved; today while it is not)."""

    travel_min: int
    on_site_min: int
    remote_min: int
    source: str
    note: str | None
    in_warranty: bool
    warranty_end: date | None
    warranty_basis: str
    charged_min: int
    amount: Decimal
    currency: str
    rate_per_hour: Decimal
    policy: str


def ticket_labour(*, conn: Conn, ticket: TicketRow, policy: PartsPolicy,
                  now: datetime) -> TicketLabour:
    """The labour of one ticket, from its stored history and its robot's warranty."""
    work = labour_of(ticket_events(conn=conn, ticket_id=ticket.id))
    owner = robot_warranty(conn=conn, robot=ticket.robot)
    w = warranty_of(install_date=owner.install_date if owner else None,
                    warranty_end=owner.warranty_end if owner else None,
                    on=(ticket.resolved_at or now).astimezone(UTC).date(), policy=policy)
    cost = charge_for(work, in_warranty=w.in_warranty, policy=policy)
    return TicketLabour(
        travel_min=work.travel_min, on_site_min=work.on_site_min, remote_min=work.remote_min,
        source=work.source, note=work.note, in_warranty=w.in_warranty, warranty_end=w.end,
        warranty_basis=w.basis, charged_min=cost.charged_min, amount=cost.amount,
        currency=cost.currency, rate_per_hour=policy.charges.labour_rate, policy=policy.label)
