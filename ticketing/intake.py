"""Intake from monitoring: one anomaly becomes a graded ticket with its clocks, or joins the
open ticket of its incident (``ticketing.incidents``: same part, or a controller anomaly that
names or follows it), raising that ticket's grade when the new anomaly's impact is worse. The
service also dispatches a new ticket in that transaction (``dispatch_at``). Synchronous; the
service runs it in a worker thread, one transaction per anomaly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from storage import incidents as incidents_store
from storage import tickets as store
from storage.connect import DatabaseError, first_line, usable
from ticketing import events
from ticketing.dispatch import auto_dispatch
from ticketing.errors import TicketingError
from ticketing.grading import grade_of, more_severe
from ticketing.incidents import OpenIncident, match_incident
from ticketing.policy import Policy

__all__ = ["IntakeResult", "ticket_anomaly", "ACTOR"]

ACTOR = "ticketing"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeResult:
    anomaly_id: int
    ticket_id: int | None   # None: nothing to do (already ticketed or taken by another worker)
    ticket_number: str | None
    created: bool
    dispatched_to: str | None = None   # with ``dispatch_at``: whom the new ticket went to


def _title(a: store.UnticketedAnomaly) -> str:
    return f"{a.kind} on {a.robot} {a.component} ({a.impact})"


def _regrade(
    *, conn: store.Conn, policy: Policy, ticket: store.TicketRow, grade: str, now: datetime,
    reason: str,
) -> None:
    """Raise ``ticket`` to ``grade`` with an audited ``regrade`` event; its clocks become the
    new grade's, counted from its own acceptance (``ticketing.deadlines``)."""
    events.apply(conn=conn, ticket_id=ticket.id, event="regrade", actor=ACTOR,
                 expected_version=None, now=now, policy=policy, grade=grade, reason=reason)


def _escalate_peers(
    *, conn: store.Conn, policy: Policy, kind: str, now: datetime, reason: str
) -> None:
    """The multi-customer rule makes the same fault at the other customers as urgent as the
    new one: their open tickets take the rule's grade and its clocks, counted from their own
    acceptance, with an audited ``regrade`` event."""
    rule = policy.grading.multi_core
    if rule is None:
        return
    for t in store.open_tickets_of_kind(conn=conn, kind=kind, tiers=rule.tiers,
                                        since=now - rule.window):
        if more_severe(t.grade, rule.grade) != t.grade:
            _regrade(conn=conn, policy=policy, ticket=t, grade=rule.grade, now=now,
                     reason=reason)


def _join_incident(
    *, conn: store.Conn, policy: Policy, anomaly: store.UnticketedAnomaly, now: datetime,
) -> IntakeResult | None:
    """Attach ``anomaly`` to the open ticket of its incident, if it has one, and raise that
    ticket's grade to the worst impact among its anomalies."""
    open_ = [OpenIncident(ticket_id=t.ticket_id, component=t.component,
                          components=frozenset(t.anomaly_components),
                          kinds=frozenset(t.anomaly_kinds) | {t.kind},
                          last_anomaly_at=t.last_anomaly_at)
             for t in incidents_store.open_ticket_anomalies(conn=conn, robot_id=anomaly.robot_id)]
    match = match_incident(component=anomaly.component, kind=anomaly.kind,
                           started_at=anomaly.started_at, evidence=anomaly.evidence,
                           open_incidents=open_, rules=policy.incidents)
    if match is None:
        return None
    ticket = store.get_ticket(conn=conn, ticket_id=match.ticket_id)
    if ticket is None:
        return None
    store.attach_anomaly(conn=conn, ticket_id=ticket.id, anomaly_id=anomaly.id, actor=ACTOR,
                         at=now, data={"incident": match.reason,
                                       "attributed_to": match.attributed_to})
    grade = grade_of(policy=policy, tier=ticket.tier, impact=anomaly.impact).grade
    if more_severe(ticket.grade, grade) != ticket.grade:
        _regrade(conn=conn, policy=policy, ticket=ticket, grade=grade, now=now,
                 reason=f"anomaly {anomaly.id} ({anomaly.kind} on {anomaly.component}, impact "
                        f"{anomaly.impact}) joined: {match.reason}")
    return IntakeResult(anomaly_id=anomaly.id, ticket_id=ticket.id,
                        ticket_number=ticket.number, created=False)


def _dispatch(
    conn: store.Conn, ticket: store.TicketRow, policy: Policy, at: Callable[[], datetime]
) -> str | None:
    """Dispatch a ticket just opened, in a savepoint of its transaction: a failure leaves the
    ticket ``new`` (the service's sweep tries again) and costs the intake nothing."""
    try:
        with store.atomic(conn=conn):
            return auto_dispatch(conn=conn, ticket_id=ticket.id, policy=policy, now=at())
    except (TicketingError, LookupError, ValueError, DatabaseError) as exc:
        if not usable(conn):
            raise
        log.error("ticket %s left undispatched: %s", ticket.number, first_line(exc))
        return None


def ticket_anomaly(
    *, conn: store.Conn, anomaly_id: int, policy: Policy, now: datetime,
    dispatch_at: Callable[[], datetime] | None = None,
) -> IntakeResult:
    """Ticket one anomaly; ``now`` is the acceptance instant every clock starts from.

    ``dispatch_at``: a new ticket is dispatched in the same transaction, at the instant this
    clock reads then (one commit from anomaly to dispatch, not two)."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    with store.atomic(conn=conn):
        anomaly = store.claim_anomaly(conn=conn, anomaly_id=anomaly_id)
        if anomaly is None:
            return IntakeResult(anomaly_id=anomaly_id, ticket_id=None, ticket_number=None,
                                created=False)
        incidents_store.lock_robot_intake(conn=conn, robot_id=anomaly.robot_id)
        joined = _join_incident(conn=conn, policy=policy, anomaly=anomaly, now=now)
        if joined is not None:
            return joined
        rule = policy.grading.multi_core
        same_kind = 1
        if rule is not None and anomaly.tier in rule.tiers:
            same_kind = max(1, store.same_kind_customers(
                conn=conn, kind=anomaly.kind, tiers=rule.tiers, since=now - rule.window))
        decision = grade_of(policy=policy, tier=anomaly.tier, impact=anomaly.impact,
                            same_kind_customers=same_kind)
        ticket = events.open_ticket(
            conn=conn,
            draft=events.TicketDraft(
                robot_id=anomaly.robot_id, customer_id=anomaly.customer_id, tier=anomaly.tier,
                impact=anomaly.impact, grade=decision.grade, component=anomaly.component,
                kind=anomaly.kind, title=_title(anomaly),
            ),
            policy=policy, actor=ACTOR, at=now,
            data={"anomaly_id": anomaly.id, "grading": decision.reason,
                  "matrix_grade": decision.matrix_grade, "escalated": decision.escalated,
                  "assumed_cell": decision.assumed, "detector": anomaly.detector},
        )
        store.attach_anomaly(conn=conn, ticket_id=ticket.id, anomaly_id=anomaly.id,
                             actor=ACTOR, at=now)
        if decision.escalated:
            _escalate_peers(conn=conn, policy=policy, kind=anomaly.kind, now=now,
                            reason=decision.reason)
        to = _dispatch(conn, ticket, policy, dispatch_at) if dispatch_at is not None else None
    return IntakeResult(anomaly_id=anomaly.id, ticket_id=ticket.id, ticket_number=ticket.number,
                        created=True, dispatched_to=to)
