"""Callback surveys of completed tickets: opened at completion, recorded once (by customer
service, or by the customer through a single-use link whose token is kept only as a SHA-256
digest), and the per-period scores the reports read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.tickets import Conn

__all__ = ["CallbackRow", "CallbackScore", "open_callback", "get_callback", "lock_callback",
           "lock_callback_by_token", "callback_by_token",
           "set_link", "record_callback", "set_follow_up",
           "callback_scores"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackRow:
    id: int
    ticket_id: int
    ticket: str
    customer: str
    opened_at: datetime
    due_at: datetime
    link_expires_at: datetime
    link_used_at: datetime | None
    score: int | None
    suggestions: str | None
    recorded_at: datetime | None
    recorded_by: str | None
    via: str | None
    follow_up_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackScore:
    """One recorded survey: the satisfaction KPIs' input."""

    ticket_id: int
    ticket: str
    customer: str
    score: int
    recorded_at: datetime
    via: str


_SELECT = """
    SELECT cb.id, cb.ticket_id, t.number AS ticket, c.code AS customer, cb.opened_at,
           cb.due_at, cb.link_expires_at, cb.link_used_at, cb.score, cb.suggestions,
           cb.recorded_at, cb.recorded_by, cb.via, cb.follow_up_id
    FROM callbacks cb
    JOIN tickets t ON t.id = cb.ticket_id
    JOIN customers c ON c.id = t.customer_id
"""


def open_callback(
    *, conn: Conn, ticket_id: int, opened_at: datetime, due_at: datetime,
    link_expires_at: datetime,
) -> bool:
    """Open the survey of a completed ticket; False if it has one already (signed off again
    after a reopen: the first survey stands)."""
    r = _one(conn, """INSERT INTO callbacks (ticket_id, opened_at, due_at, link_expires_at)
                      VALUES (%s, %s, %s, %s) ON CONFLICT (ticket_id) DO NOTHING
                      RETURNING id""", (ticket_id, opened_at, due_at, link_expires_at))
    return r is not None


def get_callback(*, conn: Conn, ticket_id: int) -> CallbackRow | None:
    r = _one(conn, f"{_SELECT} WHERE cb.ticket_id = %s", (ticket_id,))
    return CallbackRow(**r) if r else None


def lock_callback(*, conn: Conn, ticket_id: int) -> CallbackRow | None:
    r = _one(conn, f"{_SELECT} WHERE cb.ticket_id = %s FOR UPDATE OF cb", (ticket_id,))
    return CallbackRow(**r) if r else None


def lock_callback_by_token(*, conn: Conn, token_hash: bytes) -> CallbackRow | None:
    r = _one(conn, f"{_SELECT} WHERE cb.token_hash = %s FOR UPDATE OF cb", (token_hash,))
    return CallbackRow(**r) if r else None


def callback_by_token(*, conn: Conn, token_hash: bytes) -> CallbackRow | None:
    r = _one(conn, f"{_SELECT} WHERE cb.token_hash = %s", (token_hash,))
    return CallbackRow(**r) if r else None


def set_link(*, conn: Conn, callback_id: int, token_hash: bytes, expires_at: datetime) -> None:
    """A new link for the customer; any earlier one stops working."""
    conn.execute("UPDATE callbacks SET token_hash = %s, link_expires_at = %s, "
                 "link_used_at = NULL WHERE id = %s", (token_hash, expires_at, callback_id))


def record_callback(
    *, conn: Conn, callback_id: int, score: int, suggestions: str | None, at: datetime, by: str,
    via: str,
) -> bool:
    """Record the survey once; False if it was recorded already. Through the link, the link is
    used up with it."""
    r = _one(conn, """UPDATE callbacks SET score = %s, suggestions = %s, recorded_at = %s,
                          recorded_by = %s, via = %s,
                          link_used_at = CASE WHEN %s = 'link' THEN %s ELSE link_used_at END
                      WHERE id = %s AND recorded_at IS NULL RETURNING id""",
             (score, suggestions, at, by, via, via, at, callback_id))
    return r is not None


def set_follow_up(*, conn: Conn, callback_id: int, feedback_id: int) -> None:
    conn.execute("UPDATE callbacks SET follow_up_id = %s WHERE id = %s",
                 (feedback_id, callback_id))


def callback_scores(
    *, conn: Conn, since: datetime, until: datetime, customer: str | None = None
) -> list[CallbackScore]:
    """Surveys recorded in ``[since, until)``, oldest first (satisfaction: mean, share >= 4)."""
    rows = _rows(conn, """
        SELECT cb.ticket_id, t.number AS ticket, c.code AS customer, cb.score, cb.recorded_at,
               cb.via
        FROM callbacks cb
        JOIN tickets t ON t.id = cb.ticket_id
        JOIN customers c ON c.id = t.customer_id
        WHERE cb.recorded_at >= %(since)s AND cb.recorded_at < %(until)s
          AND (%(customer)s::text IS NULL OR c.code = %(customer)s)
        ORDER BY cb.recorded_at, cb.id""", {"since": since, "until": until, "customer": customer})
    return [CallbackScore(**r) for r in rows]
