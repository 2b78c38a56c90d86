"""Customer feedback and complaints: the records, their append-only history, their extension
requests, and the per-period reads the reports need (complaints; the callbacks' scores are in
``storage.callbacks``).

Functions take the connection as ``conn`` and work in the caller's transaction when one is
open. Clocks and timers of a record are rows of ``storage.timers`` (``feedback_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.tickets import Conn

__all__ = ["NewFeedback", "FeedbackRow", "FeedbackEventRow", "ExtensionRow", "CustomerPlace",
           "ComplaintRow", "customer_place", "create_feedback", "get_feedback",
           "lock_feedback", "list_feedback", "transition_feedback", "feedback_events",
           "add_feedback_event",
           "ask_extension", "pending_extension", "decide_extension", "extensions_of",
           "complaints_between", "FEEDBACK_COLUMNS_SET_BY_TRANSITION"]

# Columns an event may change besides state and version; anything else is refused.
FEEDBACK_COLUMNS_SET_BY_TRANSITION = frozenset({
    "department", "confirmed_at", "plan_at", "completed_at", "result", "told_at",
    "revisit_due", "revisited_at", "responded_at", "escalation",
})


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerPlace:
    id: int
    code: str
    timezone: str   # of the customer's first site: its working days count there


@dataclass(frozen=True, slots=True, kw_only=True)
class NewFeedback:
    kind: str
    customer_id: int
    category: str
    urgency: str
    channel: str
    reporter: str
    summary: str
    received_at: datetime
    registered_at: datetime
    registered_late: bool
    timezone: str
    policy: str
    major: bool = False
    ticket_id: int | None = None
    state: str = "received"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRow:
    id: int
    number: str
    kind: str
    customer_id: int
    customer: str
    ticket_id: int | None
    category: str
    urgency: str
    major: bool
    department: str | None
    channel: str
    reporter: str
    summary: str
    state: str
    received_at: datetime
    registered_at: datetime
    registered_late: bool
    timezone: str
    policy: str
    confirmed_at: datetime | None
    plan_at: datetime | None
    completed_at: datetime | None
    result: str | None
    told_at: datetime | None
    revisit_due: bool
    revisited_at: datetime | None
    responded_at: datetime | None
    escalation: int
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackEventRow:
    id: int
    feedback_id: int
    at: datetime
    event: str
    actor: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtensionRow:
    id: int
    feedback_id: int
    clock: str
    asked_at: datetime
    asked_by: str
    reason: str
    old_due: datetime
    new_due: datetime
    decided_at: datetime | None
    decided_by: str | None
    approved: bool | None
    notice: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintRow:
    id: int
    number: str
    customer: str
    registered_at: datetime
    responded_at: datetime | None
    completed_at: datetime | None
    state: str


_SELECT = """
    SELECT f.id, f.number, f.kind, f.customer_id, c.code AS customer, f.ticket_id, f.category,
           f.urgency, f.major, f.department, f.channel, f.reporter, f.summary, f.state,
           f.received_at, f.registered_at, f.registered_late, f.timezone, f.policy,
           f.confirmed_at, f.plan_at, f.completed_at, f.result, f.told_at, f.revisit_due,
           f.revisited_at, f.responded_at, f.escalation, f.version
    FROM feedback f JOIN customers c ON c.id = f.customer_id
"""
_EXT_COLS = ("id, feedback_id, clock, asked_at, asked_by, reason, old_due, new_due, decided_at, "
             "decided_by, approved, notice")


def customer_place(*, conn: Conn, code: str) -> CustomerPlace | None:
    r = _one(conn, """SELECT c.id, c.code,
                             COALESCE((SELECT s.timezone FROM sites s WHERE s.customer_id = c.id
                                       ORDER BY s.id LIMIT 1), 'Asia/Shanghai') AS timezone
                      FROM customers c WHERE c.code = %s""", (code,))
    return CustomerPlace(**r) if r else None


def _insert_event(
    conn: Conn, *, feedback_id: int, at: datetime, event: str, actor: str,
    from_state: str | None, to_state: str | None, data: dict[str, Any],
) -> None:
    conn.execute("""INSERT INTO feedback_events (feedback_id, at, event, actor, from_state,
                                                 to_state, data)
                    VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                 (feedback_id, at, event, actor, from_state, to_state, Jsonb(data)))


def create_feedback(
    *, conn: Conn, new: NewFeedback, actor: str, data: dict[str, Any] | None = None
) -> FeedbackRow:
    """Insert a record numbered ``FB-YYYYMMDD-NNNN`` (a complaint: ``CP-...``; UTC day of
    registration, counter per day and kind) and its ``registered`` history row."""
    if new.registered_at.utcoffset() is None:
        raise ValueError("registered_at must be timezone-aware")
    kind = "CP" if new.kind == "complaint" else "FB"
    prefix = f"{kind}-{new.registered_at.astimezone(UTC):%Y%m%d}-"
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('robowatch:feedback-number'))")
        last = _one(conn, "SELECT number FROM feedback WHERE number LIKE %s "
                          "ORDER BY length(number) DESC, number DESC LIMIT 1", (prefix + "%",))
        seq = int(last["number"].rsplit("-", 1)[1]) + 1 if last else 1
        values = {f.name: getattr(new, f.name) for f in fields(NewFeedback)}
        values["number"] = f"{prefix}{seq:04d}"
        cols = ", ".join(values)
        marks = ", ".join(f"%({c})s" for c in values)
        row = _one(conn, f"INSERT INTO feedback ({cols}) VALUES ({marks}) RETURNING id", values)
        assert row is not None  # INSERT ... RETURNING always yields the row
        _insert_event(conn, feedback_id=row["id"], at=new.registered_at, event="registered",
                      actor=actor, from_state=None, to_state=new.state, data=data or {})
        out = get_feedback(conn=conn, feedback_id=row["id"])
    assert out is not None
    return out


def get_feedback(*, conn: Conn, feedback_id: int) -> FeedbackRow | None:
    r = _one(conn, f"{_SELECT} WHERE f.id = %s", (feedback_id,))
    return FeedbackRow(**r) if r else None


def lock_feedback(*, conn: Conn, feedback_id: int) -> FeedbackRow | None:
    """The record, locked until the transaction ends."""
    r = _one(conn, f"{_SELECT} WHERE f.id = %s FOR UPDATE OF f", (feedback_id,))
    return FeedbackRow(**r) if r else None


def list_feedback(
    *, conn: Conn, kind: str | None = None, state: str | None = None,
    customer: str | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[FeedbackRow], int]:
    """Newest first, with the total matching count."""
    where = ["(%(kind)s::text IS NULL OR f.kind = %(kind)s)",
             "(%(state)s::text IS NULL OR f.state = %(state)s)",
             "(%(customer)s::text IS NULL OR c.code = %(customer)s)"]
    params = {"kind": kind, "state": state, "customer": customer, "limit": limit,
              "offset": offset}
    cond = " AND ".join(where)
    rows = _rows(conn, f"{_SELECT} WHERE {cond} ORDER BY f.id DESC LIMIT %(limit)s "
                       "OFFSET %(offset)s", params)
    total = _one(conn, f"SELECT count(*) AS n FROM feedback f JOIN customers c "
                       f"ON c.id = f.customer_id WHERE {cond}", params)
    return [FeedbackRow(**r) for r in rows], int(total["n"]) if total else 0


def transition_feedback(
    *, conn: Conn, feedback_id: int, from_state: str, to_state: str, event: str, actor: str,
    at: datetime, data: dict[str, Any], changes: dict[str, Any], expected_version: int,
) -> FeedbackRow | None:
    """Move a record and append its history row; None (nothing written) if it is no longer in
    ``from_state`` at ``expected_version``."""
    bad = set(changes) - FEEDBACK_COLUMNS_SET_BY_TRANSITION
    if bad:
        raise ValueError(f"an event cannot set {sorted(bad)}")
    sets = "".join(f", {c} = %({c})s" for c in changes)
    with conn.transaction():
        r = _one(conn, f"""UPDATE feedback SET state = %(to)s, version = version + 1{sets}
                           WHERE id = %(id)s AND state = %(from)s AND version = %(v)s
                           RETURNING id""",
                 {**changes, "to": to_state, "id": feedback_id, "from": from_state,
                  "v": expected_version})
        if r is None:
            return None
        _insert_event(conn, feedback_id=feedback_id, at=at, event=event, actor=actor,
                      from_state=from_state, to_state=to_state, data=data)
    return get_feedback(conn=conn, feedback_id=feedback_id)


def add_feedback_event(
    *, conn: Conn, feedback_id: int, at: datetime, event: str, actor: str, state: str,
    data: dict[str, Any] | None = None,
) -> None:
    """A history row that changes nothing on the record (a clock's warning or breach)."""
    _insert_event(conn, feedback_id=feedback_id, at=at, event=event, actor=actor,
                  from_state=state, to_state=state, data=data or {})


def feedback_events(*, conn: Conn, feedback_id: int) -> list[FeedbackEventRow]:
    rows = _rows(conn, "SELECT id, feedback_id, at, event, actor, from_state, to_state, data "
                       "FROM feedback_events WHERE feedback_id = %s ORDER BY id", (feedback_id,))
    return [FeedbackEventRow(**r) for r in rows]


def ask_extension(
    *, conn: Conn, feedback_id: int, clock: str, at: datetime, by: str, reason: str,
    old_due: datetime, new_due: datetime,
) -> ExtensionRow:
    r = _one(conn, f"""INSERT INTO feedback_extensions (feedback_id, clock, asked_at, asked_by,
                                                        reason, old_due, new_due)
                       VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_EXT_COLS}""",
             (feedback_id, clock, at, by, reason, old_due, new_due))
    assert r is not None  # INSERT ... RETURNING always yields the row
    return ExtensionRow(**r)


def pending_extension(*, conn: Conn, feedback_id: int) -> ExtensionRow | None:
    r = _one(conn, f"SELECT {_EXT_COLS} FROM feedback_extensions "
                   "WHERE feedback_id = %s AND decided_at IS NULL", (feedback_id,))
    return ExtensionRow(**r) if r else None


def decide_extension(
    *, conn: Conn, extension_id: int, at: datetime, by: str, approved: bool, notice: str
) -> None:
    conn.execute("""UPDATE feedback_extensions SET decided_at = %s, decided_by = %s,
                        approved = %s, notice = %s
                    WHERE id = %s AND decided_at IS NULL""",
                 (at, by, approved, notice, extension_id))


def extensions_of(*, conn: Conn, feedback_id: int) -> list[ExtensionRow]:
    rows = _rows(conn, f"SELECT {_EXT_COLS} FROM feedback_extensions WHERE feedback_id = %s "
                       "ORDER BY id", (feedback_id,))
    return [ExtensionRow(**r) for r in rows]


def complaints_between(
    *, conn: Conn, since: datetime, until: datetime, customer: str | None = None
) -> list[ComplaintRow]:
    """Complaints registered in ``[since, until)``, oldest first (the complaint-rate KPI)."""
    rows = _rows(conn, """
        SELECT f.id, f.number, c.code AS customer, f.registered_at, f.responded_at,
               f.completed_at, f.state
        FROM feedback f JOIN customers c ON c.id = f.customer_id
        WHERE f.kind = 'complaint' AND f.registered_at >= %(since)s
          AND f.registered_at < %(until)s
          AND (%(customer)s::text IS NULL OR c.code = %(customer)s)
        ORDER BY f.registered_at, f.id""", {"since": since, "until": until, "customer": customer})
    return [ComplaintRow(**r) for r in rows]
