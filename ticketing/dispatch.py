"""Dispatch (service rules sections 3-4): grades the policy routes to the O&M manager go to an
on-duty manager, who forms the team; the others go straight to an on-duty engineer chosen by
skills (robot brand, model, fault kind), then same city, then lightest workload. Who is on
duty is computed from the roster in force at the instant of the dispatch (``ticketing.duty``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage import fleet
from storage import tickets as store
from ticketing import events
from ticketing.duty import engineers_on_duty, routed_role, same_city
from ticketing.errors import ConcurrentChange
from ticketing.policy import Policy

__all__ = ["choose_assignee", "next_assignee", "auto_dispatch", "ACTOR"]

ACTOR = "ticketing:auto-dispatch"


def _rank(
    e: store.EngineerLoad, *, wanted: set[str], city: str | None
) -> tuple[int, int, int, str]:
    matched = len(wanted & {s.lower() for s in e.skills})
    return (-matched, -int(same_city(e, city)), e.open_tickets, e.code)


def choose_assignee(
    *,
    candidates: Sequence[store.EngineerLoad],
    wanted_skills: Sequence[str] = (),
    city: str | None = None,
) -> store.EngineerLoad | None:
    """The best of the ``candidates`` on duty, or None when there are none. Pure."""
    on_duty = [c for c in candidates if c.on_duty]
    if not on_duty:
        return None
    wanted = {s.lower() for s in wanted_skills if s}
    return min(on_duty, key=lambda e: _rank(e, wanted=wanted, city=city))


def next_assignee(
    *, conn: store.Conn, ticket: store.TicketRow, policy: Policy, at: datetime,
    exclude: Sequence[str] = (), only: Sequence[str] | None = None,
) -> store.EngineerLoad | None:
    """The best person on duty at ``at`` for ``ticket`` by the policy's routing, leaving out
    ``exclude`` and whoever refused it or let its confirmation lapse before, and (``only``)
    anyone not named there; None when nobody is left."""
    robot = fleet.get_robot(conn=conn, code=ticket.robot)
    wanted = [ticket.kind] + ([robot.brand or "", robot.model or ""] if robot else [])
    # Whoever refused this ticket or let it lapse is not asked again; a person decides then.
    history = store.ticket_events(conn=conn, ticket_id=ticket.id)
    left_out = set(exclude)
    left_out |= {str(e.data.get("refused_by")) for e in history if e.event == "refuse"}
    left_out |= {str(e.data.get("from")) for e in history
                 if e.event == "reassign" and e.data.get("lapsed")}
    candidates = [e for e in engineers_on_duty(conn=conn, role=routed_role(ticket, policy), at=at)
                  if e.code not in left_out and (only is None or e.code in only)]
    return choose_assignee(candidates=candidates, wanted_skills=wanted,
                           city=robot.city if robot else None)


def auto_dispatch(
    *, conn: store.Conn, ticket_id: int, policy: Policy, now: datetime
) -> str | None:
    """Dispatch a ``new`` ticket; the assignee's code, or None when nobody fits (the ticket
    stays ``new`` for a person to dispatch, and the next sweep tries again)."""
    ticket = store.get_ticket(conn=conn, ticket_id=ticket_id)
    if ticket is None or ticket.state != "new":
        return None
    chosen = next_assignee(conn=conn, ticket=ticket, policy=policy, at=now)
    if chosen is None:
        return None
    to_manager = ticket.grade in policy.routing.manager_grades
    why = (f"grade {ticket.grade} goes to the O&M manager" if to_manager
           else f"grade {ticket.grade} goes to an engineer")
    # The version read above: a person who dispatched meanwhile wins, and this sweep yields.
    try:
        events.apply(conn=conn, ticket_id=ticket_id, event="dispatch", actor=ACTOR,
                     expected_version=ticket.version, now=now, policy=policy,
                     assignee=chosen.code, reason=why)
    except ConcurrentChange:
        return None
    return chosen.code
