"""Root-cause reports (service rules section 6): a ticket of a grade in ``rca_grades``, or a
repeat fault, owes one when it is completed, due ``rca_within`` later on the ticket's own
``rca`` clock (its warnings and breach fire like any ticket clock). A report names the cause,
the lessons, the gaps and the corrective actions, and where the root cause lies (design,
manufacturing, installation, operation, maintenance).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from storage import improvement as istore
from storage import tickets as store
from ticketing import clocks, deadlines
from ticketing.errors import EventRefused, MissingDetail, TicketNotFound
from ticketing.feedback.policy import RCA_CATEGORIES
from ticketing.policy import Policy

__all__ = ["on_completed", "submit"]


def on_completed(*, conn: store.Conn, ticket: store.TicketRow, policy: Policy,
                 at: datetime) -> None:
    """At completion: require the report for the grade, and start its clock if one is owed."""
    rules = policy.improvement
    if rules is None:
        return
    if ticket.grade in rules.rca_grades:
        istore.require_rca(conn=conn, ticket_id=ticket.id, why="grade", at=at)
    report = istore.get_rca(conn=conn, ticket_id=ticket.id)
    if report is None or report.due_at is not None or report.submitted_at is not None:
        return
    spec = clocks.ClockSpec(name="rca", allowed=rules.rca_within.allowed,
                            calendar=rules.rca_within.calendar, escalates=False)
    due = deadlines.start_after_completion(conn=conn, ticket=ticket, policy=policy, spec=spec,
                                           at=at)
    istore.set_rca_due(conn=conn, ticket_id=ticket.id, due_at=due)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MissingDetail(f"a root-cause report needs its {name}")
    return value.strip()


def submit(
    *, conn: store.Conn, ticket_id: int, category: object, cause: object, lessons: object,
    gaps: object, actions: Sequence[object], actor: str, now: datetime, policy: Policy,
) -> istore.RcaRow:
    """Store the report and meet the ``rca`` clock; refused when none is owed or it is in."""
    if category not in RCA_CATEGORIES:
        raise MissingDetail(f"category must be one of {RCA_CATEGORIES}, got {category!r}")
    texts = {n: _text(n, v) for n, v in (("cause", cause), ("lessons", lessons), ("gaps", gaps))}
    steps = [_text("corrective action", a) for a in actions]
    if not steps:
        raise MissingDetail("a root-cause report needs at least one corrective action")
    with store.atomic(conn=conn):
        ticket = store.lock_ticket(conn=conn, ticket_id=ticket_id)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        if not istore.submit_rca(conn=conn, ticket_id=ticket_id, category=str(category),
                                 actions=steps, at=now, by=actor, **texts):
            raise EventRefused(event="submit_rca", state=ticket.state,
                               why="no root-cause report is owed, or it is in already")
        deadlines.meet_clock(conn=conn, ticket=ticket, policy=policy, name="rca", at=now)
        store.add_event(conn=conn, ticket_id=ticket_id, at=now, event="rca_submitted",
                        actor=actor, state=ticket.state,
                        data={"category": category, "cause": texts["cause"]})
        report = istore.get_rca(conn=conn, ticket_id=ticket_id)
    assert report is not None
    return report
