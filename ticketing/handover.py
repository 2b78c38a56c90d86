"""A shift handover reassigns the tickets it listed (policy ``[handover]``): the open tickets
of the people who went off duty go to the incoming shift, chosen by the dispatch rules
(``ticketing.dispatch``: routed role, skills, city, workload), each as a ``reassign`` event
naming the handover.

It happens in the timer pass (``ticketing.timers``), never in the request that acknowledges:
a handover is due to be reassigned when someone of the incoming shift acknowledges it
(``ticketing.duty.acknowledge``), or ``reassign_after`` after it fired if nobody has. The pass
locks the handover row (``FOR UPDATE SKIP LOCKED``) and stamps ``reassigned_at`` in the
transaction of the reassign events, so a restart repeats none and two processes never both
reassign. A ticket is left as it is when a person moved it meanwhile (its assignee is no longer
one who went off duty), when its state allows no reassignment (waiting for the customer,
resolved) or when nobody of the incoming shift can take it (routed to another role).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from storage import duty as dstore
from storage import tickets as store
from storage.connect import DatabaseError, first_line, usable
from ticketing import events
from ticketing.dispatch import next_assignee
from ticketing.errors import TicketingError
from ticketing.policy import Policy

__all__ = ["Reassigned", "reassign_handed_over", "next_reassignment_due", "REASSIGNABLE"]

log = logging.getLogger(__name__)

# The states the lifecycle lets a ticket be reassigned from (``ticketing.lifecycle``).
REASSIGNABLE = frozenset({"dispatched", "accepted", "travelling", "in_progress"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Reassigned:
    handover_id: int
    team: str
    moved: tuple[tuple[str, str, str], ...]   # (ticket number, from, to)
    kept: tuple[int, ...]                     # ticket ids left with their assignee


def _one(conn: store.Conn, h: dstore.HandoverRow, ticket_id: int, now: datetime,
         policy: Policy) -> tuple[str, str, str] | None:
    t = store.get_ticket(conn=conn, ticket_id=ticket_id)
    going = set(h.leaving) - set(h.incoming)
    if t is None or t.assignee not in going or t.state not in REASSIGNABLE:
        return None
    chosen = next_assignee(conn=conn, ticket=t, policy=policy, at=now, exclude=[t.assignee],
                           only=h.incoming)
    if chosen is None:
        return None
    how = "acknowledged" if h.acknowledged_at is not None else "not acknowledged in time"
    events.apply(conn=conn, ticket_id=t.id, event="reassign", actor=events.SYSTEM,
                 expected_version=None, now=now, policy=policy, assignee=chosen.code,
                 reason=f"{t.assignee} went off duty at the {h.team} shift change of "
                        f"{h.at.isoformat()} (handover {h.id}, {how})",
                 handover_id=h.id)
    return t.number, t.assignee, chosen.code


def reassign_handed_over(*, conn: store.Conn, now: datetime, policy: Policy) -> list[Reassigned]:
    """Reassign the tickets of every handover due at ``now``, in one transaction; what moved.
    Nothing when the policy leaves handed-over tickets with their assignee."""
    rules = policy.handover
    if rules is None or not rules.reassign:
        return []
    done: list[Reassigned] = []
    with store.atomic(conn=conn):
        for h in dstore.claim_due_reassignments(conn=conn, now=now, after=rules.reassign_after):
            moved: list[tuple[str, str, str]] = []
            kept: list[int] = []
            for ticket_id in h.tickets:
                try:
                    with store.atomic(conn=conn):  # a savepoint: one ticket's failure is its own
                        one = _one(conn, h, ticket_id, now, policy)
                except (TicketingError, LookupError, ValueError, DatabaseError) as exc:
                    if not usable(conn):
                        raise
                    # Not retried: the handover is settled once, and a person can reassign.
                    log.error("handover %s: ticket %s not reassigned: %s", h.id, ticket_id,
                              first_line(exc))
                    one = None
                if one is None:
                    kept.append(ticket_id)
                else:
                    moved.append(one)
            dstore.mark_reassigned(conn=conn, handover_id=h.id, at=now)
            done.append(Reassigned(handover_id=h.id, team=h.team, moved=tuple(moved),
                                   kept=tuple(kept)))
    return done


def next_reassignment_due(*, conn: store.Conn, policy: Policy) -> datetime | None:
    """When the timer pass must next reassign a handover's tickets (None: nothing waits)."""
    rules = policy.handover
    if rules is None or not rules.reassign:
        return None
    return dstore.next_reassignment_due(conn=conn, after=rules.reassign_after)
