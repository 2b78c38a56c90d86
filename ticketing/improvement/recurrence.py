"""Faults that come back (service rules section 6; policy ``[improvement]``), decided when a
ticket opens:

- a **repeat**: the same robot and fault kind within ``repeat_window`` of a completed ticket.
  It is linked to that ticket, flagged (history row ``repeat_flagged``) and owes a root-cause
  report with its category (``ticketing.improvement.rca``);
- a **common problem**: the same fault kind on >= ``common_min_robots`` robots or at >=
  ``common_min_customers`` customers within ``common_window``. It opens one common-problem
  record per kind (``ticketing.improvement.common``), which every such ticket joins
  (history row ``common_problem``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage import improvement as istore
from storage import tickets as store
from ticketing.deadlines import calendars_of
from ticketing.feedback.policy import ImprovementRules
from ticketing.policy import Policy

__all__ = ["Spread", "is_common", "on_opened"]


@dataclass(frozen=True, slots=True)
class Spread:
    robots: int
    customers: int


def is_common(rules: ImprovementRules, spread: Spread) -> bool:
    """The common-problem rule: enough robots, or enough customers."""
    return (spread.robots >= rules.common_min_robots
            or spread.customers >= rules.common_min_customers)


def _repeat(conn: store.Conn, ticket: store.TicketRow, rules: ImprovementRules,
            at: datetime) -> None:
    prev = istore.previous_closed(conn=conn, robot_id=ticket.robot_id, kind=ticket.kind,
                                  since=at - rules.repeat_window, exclude=ticket.id)
    if prev is None:
        return
    istore.flag_repeat(conn=conn, ticket_id=ticket.id, previous_id=prev.id, at=at)
    istore.require_rca(conn=conn, ticket_id=ticket.id, why="repeat", at=at)
    store.add_event(conn=conn, ticket_id=ticket.id, at=at, event="repeat_flagged",
                    actor="system", state=ticket.state,
                    data={"previous": prev.number, "previous_closed_at":
                          prev.closed_at.isoformat(), "rca_required": True})


def _common(conn: store.Conn, ticket: store.TicketRow, rules: ImprovementRules,
            policy: Policy, at: datetime) -> None:
    if ticket.kind in rules.common_ignore_kinds:
        return
    problem = istore.lock_open_problem(conn=conn, kind=ticket.kind)
    if problem is not None:
        # Open already: the ticket joins it, counted without re-reading the window.
        istore.join_problem(conn=conn, problem_id=problem.id, ticket_id=ticket.id,
                            robot_id=ticket.robot_id, customer_id=ticket.customer_id)
    else:
        since = at - rules.common_window
        found = istore.kind_spread(conn=conn, kind=ticket.kind, since=since)
        spread = Spread(robots=found.robots, customers=found.customers)
        if not is_common(rules, spread):
            return
        cal = calendars_of(policy=policy, tz=ticket.timezone)(rules.capa_within.calendar)
        problem = istore.create_problem(
            conn=conn, kind=ticket.kind, opened_at=at, robots=spread.robots,
            customers=spread.customers, owner=rules.common_owner,
            capa_due=cal.add(at, rules.capa_within.allowed))
        istore.link_recent(conn=conn, problem_id=problem.id, kind=ticket.kind, since=since)
    now = istore.get_problem(conn=conn, problem_id=problem.id)
    assert now is not None  # locked or created in this transaction
    store.add_event(conn=conn, ticket_id=ticket.id, at=at, event="common_problem",
                    actor="system", state=ticket.state,
                    data={"problem": now.number, "kind": ticket.kind, "robots": now.robots,
                          "customers": now.customers})


def on_opened(*, conn: store.Conn, ticket: store.TicketRow, policy: Policy,
              at: datetime) -> None:
    rules = policy.improvement
    if rules is None:
        return
    _repeat(conn, ticket, rules, at)
    _common(conn, ticket, rules, policy, at)
