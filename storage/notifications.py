"""The notification outbox: deliveries planned from ticket events (and inspection events,
migration 0016), and their outcome.

A planner reads ``ticket_events`` (and ``inspection_events``) past a stored cursor and inserts
one row per (event, channel, recipient) in the same transaction that moves the cursor, so a
restart plans nothing twice. A sender claims due rows (``FOR UPDATE SKIP LOCKED``: two
senders never take the same row), marks them ``sending`` and commits before it sends; after
the send it records ``delivered`` or schedules a retry. A row still ``sending`` at start-up
was cut off mid-send: it becomes ``interrupted`` and is never sent again (at most once;
visible for inspection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from storage.connect import Conn

__all__ = ["EventToNotify", "Recipient", "PlannedDelivery", "Delivery", "NotificationRow",
           "events_after", "plan_deliveries", "inspection_events_after",
           "plan_inspection_deliveries", "claim_due", "mark_delivered", "mark_retry",
           "mark_failed", "interrupt_stale_sends", "notifications_of", "people_with_role",
           "person"]


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
    event_id: int
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
    added = 0
    for d in deliveries:
        row = conn.execute(
            """INSERT INTO notifications (event_id, ticket_id, channel, recipient, subject, body,
                                          next_attempt_at, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (event_id, channel, recipient) DO NOTHING RETURNING id""",
            (event.id, event.ticket_id, d.channel, d.recipient, d.subject, d.body, due_at,
             due_at)).fetchone()
        added += row is not None
    conn.execute("UPDATE notification_cursor SET last_event_id = greatest(last_event_id, %s)",
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


def claim_due(*, conn: Conn, now: datetime, limit: int) -> list[Delivery]:
    """Take up to ``limit`` due deliveries: they are ``sending`` once the caller commits."""
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        cur.execute(
            """UPDATE notifications n SET status = 'sending', attempts = n.attempts + 1
                WHERE n.id IN (SELECT id FROM notifications
                                WHERE status = 'pending' AND next_attempt_at <= %s
                                ORDER BY next_attempt_at, id LIMIT %s
                                FOR UPDATE SKIP LOCKED)
            RETURNING n.id, COALESCE(n.event_id, n.inspection_event_id) AS event_id, n.channel,
                      n.recipient, n.subject, n.body, n.attempts""",
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
