"""Every ticket event goes through ``apply``: checked against the lifecycle machine, recorded
with its actor and time, and its clocks moved, in one transaction with one history row.

Optimistic concurrency: a ticket carries a ``version``; a person's event names the version
they saw (``expected_version``) and is refused with ``ConcurrentChange`` if the ticket moved
on meanwhile, never written over it. The ticket row is locked (``SELECT ... FOR UPDATE``) for
the transaction, so the comparison and the write cannot be overtaken. Timers firing
(``ticketing.timers``) pass ``expected_version=None``: they hold the lock already.

``create_manual_ticket`` opens a ticket reported by a person (phone, e-mail, chat, WeChat, on
site), graded by the same policy as one opened from monitoring (``open_ticket``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage import tickets as store
from ticketing import aftersales, clocks, deadlines
from ticketing.errors import ConcurrentChange, EventRefused, MissingDetail, TicketNotFound
from ticketing.grading import grade_of
from ticketing.lifecycle import EVENTS, OPEN_STATES, check_event
from ticketing.policy import MANUAL_CHANNELS, Policy

__all__ = ["apply", "create_manual_ticket", "open_ticket", "TicketDraft", "SYSTEM"]

SYSTEM = "system"  # the actor of what the clocks do by themselves


def _aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketDraft:
    """What intake knows before the clocks are set."""

    robot_id: int
    customer_id: int
    tier: str
    impact: str
    grade: str
    component: str
    kind: str
    title: str
    channel: str = "monitoring"
    reporter: str | None = None
    description: str | None = None
    request: str | None = None


def open_ticket(
    *, conn: store.Conn, draft: TicketDraft, policy: Policy, actor: str, at: datetime,
    data: dict[str, Any],
) -> store.TicketRow:
    """Insert a graded ticket accepted into the system at ``at`` and start its clocks."""
    _aware(at)
    with store.atomic(conn=conn):
        tz = store.site_timezone(conn=conn, robot_id=draft.robot_id)
        cal = deadlines.calendars_of(policy=policy, tz=tz)
        specs = clocks.sla_clocks(policy=policy, grade=draft.grade, tier=draft.tier)
        due = {name: cal(s.calendar).add(at, s.allowed) for name, s in specs.items()}
        update = specs.get("update")
        ticket = store.create_ticket(conn=conn, ticket=store.NewTicket(
            robot_id=draft.robot_id, customer_id=draft.customer_id, tier=draft.tier,
            impact=draft.impact, grade=draft.grade, component=draft.component, kind=draft.kind,
            title=draft.title, policy=policy.label, created_at=at, respond_by=due["respond"],
            onsite_by=due.get("onsite"), plan_by=due.get("plan"), resolve_by=due["resolve"],
            update_every=update.allowed if update else None, channel=draft.channel,
            reporter=draft.reporter, description=draft.description, request=draft.request,
        ), actor=actor, data=data)
        deadlines.start_ticket(conn=conn, ticket=ticket, policy=policy, at=at)
        aftersales.on_opened(conn=conn, ticket=ticket, policy=policy, at=at)
    return ticket


def create_manual_ticket(
    *, conn: store.Conn, robot: str, channel: str, reporter: str, description: str, impact: str,
    request: str | None, actor: str, now: datetime, policy: Policy, component: str = "robot",
    kind: str = "customer_report",
) -> store.TicketRow:
    """A customer's report taken by hand (service rules section 4), graded like automatic
    tickets: the customer's tier x the impact through the policy's matrix."""
    if channel not in MANUAL_CHANNELS:
        raise MissingDetail(f"channel must be one of {MANUAL_CHANNELS}, got {channel!r}")
    for name, value in (("reporter", reporter), ("description", description),
                        ("component", component), ("kind", kind)):
        if not isinstance(value, str) or not value.strip():
            raise MissingDetail(f"a reported ticket needs its {name}")
    owner = store.robot_owner(conn=conn, code=robot)
    if owner is None:
        raise MissingDetail(f"no robot {robot!r}")
    decision = grade_of(policy=policy, tier=owner.tier, impact=impact)
    draft = TicketDraft(
        robot_id=owner.robot_id, customer_id=owner.customer_id, tier=owner.tier, impact=impact,
        grade=decision.grade, component=component, kind=kind,
        title=f"{kind} on {robot} ({impact}), by {channel}", channel=channel,
        reporter=reporter.strip(), description=description.strip(), request=request)
    return open_ticket(conn=conn, draft=draft, policy=policy, actor=actor, at=now,
                       data={"channel": channel, "grading": decision.reason,
                             "matrix_grade": decision.matrix_grade,
                             "assumed_cell": decision.assumed})


def _pause_started(conn: store.Conn, ticket_id: int) -> datetime | None:
    for e in reversed(store.ticket_events(conn=conn, ticket_id=ticket_id)):
        if e.to_state == "waiting_customer" and e.from_state != "waiting_customer":
            return e.at
    return None


def _merge(
    conn: store.Conn, t: store.TicketRow, into: int, now: datetime, actor: str,
    details: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    if into == t.id:
        raise EventRefused(event="merge", state=t.state, why="a ticket cannot absorb itself")
    target = store.lock_ticket(conn=conn, ticket_id=into)
    if target is None:
        raise TicketNotFound(f"no ticket {into} to merge into")
    if target.state not in OPEN_STATES:
        raise EventRefused(event="merge", state=t.state,
                           why=f"target {target.number} is {target.state}")
    moved = store.move_anomalies(conn=conn, from_ticket=t.id, to_ticket=target.id)
    store.add_event(conn=conn, ticket_id=target.id, at=now, event="absorbed", actor=actor,
                    state=target.state, data={"duplicate": t.number, "anomaly_ids": moved,
                                              "reason": details.get("reason")})
    return ({"merged_into": target.id, "closed_at": now},
            {"into": target.number, "anomaly_ids": moved})


def _effects(
    conn: store.Conn, t: store.TicketRow, event: str, now: datetime, policy: Policy, actor: str,
    details: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ticket columns ``event`` changes and what its history row adds to the details."""
    changes: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if event in ("dispatch", "reassign"):
        engineer = store.engineer_id(conn=conn, code=str(details["assignee"]))
        if engineer is None:
            raise MissingDetail(f"no engineer {details['assignee']!r}")
        changes["assignee_id"] = engineer
        if event == "reassign":
            data["from"] = t.assignee
    elif event == "refuse":
        changes["assignee_id"] = None
        data["refused_by"] = t.assignee
    elif event in ("accept", "send_update"):
        if t.responded_at is None:
            changes["responded_at"] = now
    elif event in ("start_remote", "arrive"):
        if t.onsite_at is None:
            changes["onsite_at"] = now
    elif event == "submit_plan":
        if t.plan_at is None:
            changes["plan_at"] = now
    elif event == "resume":
        since = _pause_started(conn, t.id)
        if since is not None:
            data["paused"] = str(now - since)
    elif event == "resolve":
        changes["resolved_at"] = now
    elif event in ("dispute", "reopen"):
        if event == "reopen":
            since = t.closed_at if t.state == "signed_off" else t.resolved_at
            window = policy.timers.reopen_window
            if since is not None and now - since > window:
                raise EventRefused(event=event, state=t.state,
                                   why=f"the reopen window of {window} after {since} has passed")
        changes.update(resolved_at=None, closed_at=None)
    elif event == "sign_off":
        changes["closed_at"] = now
    elif event == "cancel":
        changes["closed_at"] = now
    elif event == "merge":
        changes, data = _merge(conn, t, int(details["into"]), now, actor, details)
    elif event == "regrade":
        grade = str(details["grade"])
        update = clocks.sla_clocks(policy=policy, grade=grade, tier=t.tier).get("update")
        changes.update(grade=grade, update_every=update.allowed if update else None)
        data["from_grade"] = t.grade
        data["to_grade"] = grade
    return changes, data


def apply(
    *,
    conn: store.Conn,
    ticket_id: int,
    event: str,
    actor: str,
    expected_version: int | None,
    now: datetime,
    policy: Policy,
    **details: Any,
) -> store.TicketRow:
    """Apply ``event`` to a ticket as ``actor`` at ``now``; the ticket afterwards.

    Raises ``TicketNotFound``, ``ConcurrentChange`` (the ticket is not at
    ``expected_version``), ``EventRefused`` (not allowed in its state) or ``MissingDetail``
    (a detail the event needs: ``assignee``, ``reason``, ``report``, ``plan``, ``message``,
    ``grade``, ``into``). Nothing is written when it raises.
    """
    _aware(now)
    if not actor or not actor.strip():
        raise MissingDetail("every event needs its actor")
    if event not in EVENTS:
        raise EventRefused(event=event, state="?", why=f"unknown event; known: {EVENTS}")
    with store.atomic(conn=conn):
        if event == "merge" and isinstance(details.get("into"), int):
            # Two tickets are locked: always the lower id first, so opposite merges cannot
            # deadlock.
            store.lock_ticket(conn=conn, ticket_id=min(ticket_id, details["into"]))
        t = store.lock_ticket(conn=conn, ticket_id=ticket_id)
        if t is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        if expected_version is not None and t.version != expected_version:
            raise ConcurrentChange(ticket=t.number, expected=expected_version, state=t.state,
                                   version=t.version)
        to_state = check_event(state=t.state, event=event, **details)
        changes, data = _effects(conn, t, event, now, policy, actor, details)
        changes.update(deadlines.on_event(conn=conn, ticket=t, event=event, policy=policy,
                                          at=now, details=details))
        record = {k: v for k, v in details.items() if v is not None}
        row = store.transition(conn=conn, ticket_id=t.id, from_state=t.state, to_state=to_state,
                               event=event, actor=actor, at=now, data={**record, **data},
                               changes=changes, expected_version=t.version)
        if row is None:  # cannot happen under the row lock; refuse rather than overwrite
            raise ConcurrentChange(ticket=t.number, expected=expected_version, state=t.state,
                                   version=t.version)
        if event == aftersales.COMPLETION:
            aftersales.on_completed(conn=conn, ticket=row, policy=policy, at=now)
    return row
