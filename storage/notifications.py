"""The notification outbox: deliveries planned from ticket events, inspection events
(migration 0016) and feedback events (feedback and complaints), each kind past its own
cursor, and their outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from storage.connect import Conn

__all__ = ["EventToNotify", "FeedbackEventToNotify", "Recipient", "PlannedDelivery", "Delivery",
           "NotificationRow", "FeedbackNotificationRow", "events_after", "plan_deliveries",
           "inspection_events_after", "plan_inspection_deliveries", "feedback_events_after",
           "plan_feedback_deliveries", "claim_due", "mark_delivered", "mark_retry",
           "mark_failed", "interrupt_stale_sends", "notifications_of",
           "notifications_of_feedback", "people_with_role", "person"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventToNotify:
    id: int
    ticket_id: int
    at: datetime
    event: str
    actor: str
    data: dict[str, Any]
    number: str
    grade: str
    robot: str
    customer: str
    title: str
    state: str
    assignee: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackEventToNotify:
    """A feedback or complaint event with its record (no grade, no assignee: routed by
    department; its notices go to roles and group bots)."""

    id: int
    feedback_id: int
    at: datetime
    event: str
    actor: str
    data: dict[str, Any]
    number: str
    kind: str
    category: str
    urgency: str
    customer: str
    summary: str
    state: str
    department: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    code: str
    name: str
    role: str
    email: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedDelivery:
    channel: str     # email | webhook
    recipient: str   # address or webhook name
    subject: str
    body: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    id: int
    event_id: int | None             # the ticket event, or
    feedback_event_id: int | None    # the feedback event it tells of
    channel: str
    recipient: str
    subject: str
    body: str
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationRow:
    id: int
    event_id: int
    ticket_id: int
    channel: str
    recipient: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def events_after(*, conn: Conn, kinds: Sequence[str], limit: int) -> list[EventToNotify]:
    """Ticket events of ``kinds`` past the planner's cursor, oldest first, with their ticket.

    Locks the cursor row until the transaction ends: one planner at a time."""
    cursor = conn.execute("SELECT last_event_id FROM notification_cursor FOR UPDATE").fetchone()
    after = int(cursor[0]) if cursor else 0
    with conn.cursor(row_factory=class_row(EventToNotify)) as cur:
        cur.execute(
            """SELECT ev.id, ev.ticket_id, ev.at, ev.event, ev.actor, ev.data, t.number,
                      t.grade, r.code AS robot, c.code AS customer, t.title, t.state,
                      e.code AS assignee
                 FROM ticket_events ev
                 JOIN tickets t ON t.id = ev.ticket_id
                 JOIN robots r ON r.id = t.robot_id
                 JOIN customers c ON c.id = t.customer_id
                 LEFT JOIN engineers e ON e.id = t.assignee_id
                WHERE ev.id > %s AND ev.event = ANY(%s)
                ORDER BY ev.id LIMIT %s""", (after, list(kinds), limit))
        return cur.fetchall()


def plan_deliveries(
    *, conn: Conn, event: EventToNotify, deliveries: Sequence[PlannedDelivery],
    read_up_to: int, due_at: datetime,
) -> int:
    """Store the deliveries of ``event``, due at ``due_at`` (a repeat is ignored), and move
    the cursor to ``read_up_to``; the number of new rows."""
    return _plan(conn, ("event_id", "ticket_id", "last_event_id"), (event.id, event.ticket_id),
                 deliveries, read_up_to=read_up_to, due_at=due_at)


# (event column, owner column, cursor column) of a ticket event or a feedback event; fixed
# names, never input.
_Columns = tuple[str, str, str]


def _plan(conn: Conn, columns: _Columns, ids: tuple[int, int],
          deliveries: Sequence[PlannedDelivery], *, read_up_to: int, due_at: datetime) -> int:
    event_col, owner_col, cursor_col = columns
    added = 0
    for d in deliveries:
        row = conn.execute(
            f"""INSERT INTO notifications ({event_col}, {owner_col}, channel, recipient, subject,
                                           body, next_attempt_at, created_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT ({event_col}, channel, recipient) DO NOTHING RETURNING id""",
            (*ids, d.channel, d.recipient, d.subject, d.body, due_at, due_at)).fetchone()
        added += row is not None
    conn.execute(f"UPDATE notification_cursor SET {cursor_col} = greatest({cursor_col}, %s)",
                 (read_up_to,))
    return added


def inspection_events_after(*, conn: Conn, kinds: Sequence[str], grade: str,
                            limit: int) -> list[EventToNotify]:
    """Inspection events of ``kinds`` past the planner's inspection cursor, oldest first, as
    notices: ``INS-<id>`` for the number, the work order's engineer for the assignee and
    ``grade`` (an inspection has none; the caller says which routes it takes). Locks the
    cursor row until the transaction ends. ``ticket_id`` is 0: no ticket."""
    cursor = conn.execute("SELECT last_inspection_event_id FROM notification_cursor "
                          "FOR UPDATE").fetchone()
    after = int(cursor[0]) if cursor else 0
    with conn.cursor(row_factory=class_row(EventToNotify)) as cur:
        cur.execute(
            """SELECT ev.id, 0 AS ticket_id, ev.at, ev.event, ev.actor, ev.data,
                      'INS-' || i.id AS number, %s AS grade, r.code AS robot,
                      c.code AS customer, i.plan || ' inspection of ' || r.code AS title,
                      i.state, i.engineer AS assignee
                 FROM inspection_events ev
                 JOIN inspections i ON i.id = ev.inspection_id
                 JOIN robots r ON r.id = i.robot_id
                 JOIN lines l ON l.id = r.line_id
                 JOIN sites s ON s.id = l.site_id
                 JOIN customers c ON c.id = s.customer_id
                WHERE ev.id > %s AND ev.event = ANY(%s)
                ORDER BY ev.id LIMIT %s""", (grade, after, list(kinds), limit))
        return cur.fetchall()


def plan_inspection_deliveries(
    *, conn: Conn, event: EventToNotify, deliveries: Sequence[PlannedDelivery],
    read_up_to: int, due_at: datetime,
) -> int:
    """:func:`plan_deliveries` for an inspection event (``event.id``); moves the inspection
    cursor."""
    added = 0
    for d in deliveries:
        row = conn.execute(
            """INSERT INTO notifications (inspection_event_id, channel, recipient, subject, body,
                                          next_attempt_at, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (inspection_event_id, channel, recipient)
                   WHERE inspection_event_id IS NOT NULL DO NOTHING RETURNING id""",
            (event.id, d.channel, d.recipient, d.subject, d.body, due_at, due_at)).fetchone()
        added += row is not None
    conn.execute("UPDATE notification_cursor SET last_inspection_event_id = "
                 "greatest(last_inspection_event_id, %s)", (read_up_to,))
    return added


def feedback_events_after(
    *, conn: Conn, kinds: Sequence[str], limit: int
) -> list[FeedbackEventToNotify]:
    """Feedback events of ``kinds`` past the planner's feedback cursor, oldest first, with
    their record. Locks the cursor row like :func:`events_after`."""
    cursor = conn.execute(
        "SELECT last_feedback_event_id FROM notification_cursor FOR UPDATE").fetchone()
    after = int(cursor[0]) if cursor else 0
    with conn.cursor(row_factory=class_row(FeedbackEventToNotify)) as cur:
        cur.execute(
            """SELECT ev.id, ev.feedback_id, ev.at, ev.event, ev.actor, ev.data, f.number,
                      f.kind, f.category, f.urgency, c.code AS customer, f.summary, f.state,
                      f.department
                 FROM feedback_events ev
                 JOIN feedback f ON f.id = ev.feedback_id
                 JOIN customers c ON c.id = f.customer_id
                WHERE ev.id > %s AND ev.event = ANY(%s)
                ORDER BY ev.id LIMIT %s""", (after, list(kinds), limit))
        return cur.fetchall()


def plan_feedback_deliveries(
    *, conn: Conn, event: FeedbackEventToNotify, deliveries: Sequence[PlannedDelivery],
    read_up_to: int, due_at: datetime,
) -> int:
    """:func:`plan_deliveries` for a feedback event: its rows, then the feedback cursor."""
    return _plan(conn, ("feedback_event_id", "feedback_id", "last_feedback_event_id"),
                 (event.id, event.feedback_id), deliveries, read_up_to=read_up_to,
                 due_at=due_at)


def claim_due(*, conn: Conn, now: datetime, limit: int) -> list[Delivery]:
    """Take up to ``limit`` due deliveries: they are ``sending`` once the caller commits."""
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        cur.execute(
            """UPDATE notifications n SET status = 'sending', attempts = n.attempts + 1
                WHERE n.id IN (SELECT id FROM notifications
                                WHERE status = 'pending' AND next_attempt_at <= %s
                                ORDER BY next_attempt_at, id LIMIT %s
                                FOR UPDATE SKIP LOCKED)
            RETURNING n.id, COALESCE(n.event_id, n.inspection_event_id) AS event_id,
                      n.feedback_event_id, n.channel, n.recipient, n.subject, n.body,
                      n.attempts""",
            (now, limit))
        return cur.fetchall()


def mark_delivered(*, conn: Conn, delivery_id: int, at: datetime) -> None:
    conn.execute("UPDATE notifications SET status = 'delivered', delivered_at = %s, "
                 "last_error = NULL WHERE id = %s", (at, delivery_id))


def mark_retry(*, conn: Conn, delivery_id: int, error: str, next_attempt_at: datetime) -> None:
    conn.execute("UPDATE notifications SET status = 'pending', last_error = %s, "
                 "next_attempt_at = %s WHERE id = %s", (error[:2000], next_attempt_at,
                                                        delivery_id))


def mark_failed(*, conn: Conn, delivery_id: int, error: str) -> None:
    conn.execute("UPDATE notifications SET status = 'failed', last_error = %s WHERE id = %s",
                 (error[:2000], delivery_id))


def interrupt_stale_sends(*, conn: Conn) -> int:
    """Mark every ``sending`` row ``interrupted``: called when no sender runs (at start-up,
    under the same lock senders hold), so each was cut off mid-send."""
    rows = conn.execute(
        "UPDATE notifications SET status = 'interrupted', last_error = "
        "'the sender stopped during this delivery; not sent again' "
        "WHERE status = 'sending' RETURNING id").fetchall()
    return len(rows)


def notifications_of(*, conn: Conn, ticket_id: int) -> list[NotificationRow]:
    with conn.cursor(row_factory=class_row(NotificationRow)) as cur:
        cur.execute("""SELECT id, event_id, ticket_id, channel, recipient, subject, status,
                              attempts, last_error, created_at, delivered_at
                         FROM notifications WHERE ticket_id = %s ORDER BY id""", (ticket_id,))
        return cur.fetchall()


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackNotificationRow:
    id: int
    feedback_event_id: int
    feedback_id: int
    channel: str
    recipient: str
    subject: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def notifications_of_feedback(*, conn: Conn, feedback_id: int) -> list[FeedbackNotificationRow]:
    with conn.cursor(row_factory=class_row(FeedbackNotificationRow)) as cur:
        cur.execute("""SELECT id, feedback_event_id, feedback_id, channel, recipient, subject,
                              body, status, attempts, last_error, created_at, delivered_at
                         FROM notifications WHERE feedback_id = %s ORDER BY id""",
                    (feedback_id,))
        return cur.fetchall()


def people_with_role(*, conn: Conn, role: str, codes: Sequence[str]) -> list[Recipient]:
    """The people of ``role`` among ``codes`` (those on duty: ``ticketing.duty``), by code."""
    with conn.cursor(row_factory=class_row(Recipient)) as cur:
        cur.execute("SELECT code, name, role, email FROM engineers WHERE role = %s "
                    "AND code = ANY(%s) ORDER BY code", (role, list(codes)))
        return cur.fetchall()


def person(*, conn: Conn, code: str) -> Recipient | None:
    with conn.cursor(row_factory=class_row(Recipient)) as cur:
        cur.execute("SELECT code, name, role, email FROM engineers WHERE code = %s", (code,))
        return cur.fetchone()
