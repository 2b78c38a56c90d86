"""The on-call roster in force and the shift handovers: the rows ``ticketing.duty`` keeps.

The roster is stored as the document ``ticketing.roster.Roster`` validates (one row per load,
the newest in force), so the ticketing service, the notifier and the API compute who is on
duty from the same rota. A handover row is the timer of one shift change of one team: the
timer pass schedules it, locks it when due (``FOR UPDATE SKIP LOCKED``: two ticketing
processes never both fire it), and sets ``fired_at`` in the transaction that writes its
history rows; ``UNIQUE (team, at)`` keeps a change from being scheduled twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from storage.connect import Conn
from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one

__all__ = ["StoredRoster", "NewHandover", "HandoverRow", "save_roster", "current_roster",
           "schedule_handover", "last_handover_at", "claim_due_handovers", "mark_handover_fired",
           "get_handover", "list_handovers", "acknowledge_handover", "next_handover_due",
           "open_tickets_of", "claim_due_reassignments", "mark_reassigned",
           "next_reassignment_due"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRoster:
    id: int
    document: dict[str, Any]
    source: str
    loaded_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NewHandover:
    roster_id: int
    team: str
    at: datetime
    leaving_shift: str
    incoming_shift: str
    leaving: tuple[str, ...]
    incoming: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoverRow:
    id: int
    roster_id: int
    team: str
    at: datetime
    leaving_shift: str
    incoming_shift: str
    leaving: list[str]
    incoming: list[str]
    tickets: list[int] = field(default_factory=list)
    fired_at: datetime | None = None
    superseded: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    reassigned_at: datetime | None = None   # its tickets went to the incoming shift


_COLS = ("id, roster_id, team, at, leaving_shift, incoming_shift, leaving, incoming, tickets, "
         "fired_at, superseded, acknowledged_by, acknowledged_at, reassigned_at")


def _handover(r: dict[str, Any]) -> HandoverRow:
    return HandoverRow(**{**r, "leaving": list(r["leaving"]), "incoming": list(r["incoming"]),
                          "tickets": [int(t) for t in r["tickets"]]})


def save_roster(*, conn: Conn, document: dict[str, Any], source: str = "") -> int:
    """Put a roster in force; its id. Handovers the old roster scheduled and did not fire yet
    are dropped: the new rota decides the coming shift changes."""
    with conn.transaction():
        row = _one(conn, "INSERT INTO duty_rosters (document, source) VALUES (%s, %s) "
                         "RETURNING id", (Jsonb(document), source))
        assert row is not None  # INSERT ... RETURNING always yields the row
        conn.execute("DELETE FROM shift_handovers WHERE fired_at IS NULL")
    return int(row["id"])


def current_roster(*, conn: Conn) -> StoredRoster | None:
    """The roster in force (the last loaded); None when none was ever loaded."""
    r = _one(conn, "SELECT id, document, source, loaded_at FROM duty_rosters "
                   "ORDER BY id DESC LIMIT 1")
    return StoredRoster(**r) if r else None


def schedule_handover(*, conn: Conn, handover: NewHandover) -> int | None:
    """Schedule a shift change; its id, or None when that change of that team is already
    known."""
    h = handover
    r = _one(conn, """INSERT INTO shift_handovers (roster_id, team, at, leaving_shift,
                                                   incoming_shift, leaving, incoming)
                      VALUES (%s, %s, %s, %s, %s, %s, %s)
                      ON CONFLICT (team, at) DO NOTHING RETURNING id""",
             (h.roster_id, h.team, h.at, h.leaving_shift, h.incoming_shift, list(h.leaving),
              list(h.incoming)))
    return int(r["id"]) if r else None


def last_handover_at(*, conn: Conn, roster_id: int) -> dict[str, datetime]:
    """team -> its latest shift change known under ``roster_id`` (scheduled or fired)."""
    rows = _rows(conn, "SELECT team, max(at) AS at FROM shift_handovers WHERE roster_id = %s "
                       "GROUP BY team", (roster_id,))
    return {str(r["team"]): r["at"] for r in rows}


def claim_due_handovers(*, conn: Conn, now: datetime) -> list[HandoverRow]:
    """Lock the unfired handovers due at ``now``, oldest first, skipping any another process
    holds. Call inside a transaction; the locks last until it ends."""
    rows = _rows(conn, f"""SELECT {_COLS} FROM shift_handovers
                           WHERE fired_at IS NULL AND at <= %s
                           ORDER BY at, id FOR UPDATE SKIP LOCKED""", (now,))
    return [_handover(r) for r in rows]


def mark_handover_fired(
    *, conn: Conn, handover_id: int, at: datetime, tickets: Sequence[int] = (),
    superseded: bool = False,
) -> bool:
    """Record that a handover fired (listing ``tickets``); False if it had already."""
    r = _one(conn, """UPDATE shift_handovers SET fired_at = %s, tickets = %s, superseded = %s
                      WHERE id = %s AND fired_at IS NULL RETURNING id""",
             (at, list(tickets), superseded, handover_id))
    return r is not None


def get_handover(*, conn: Conn, handover_id: int, lock: bool = False) -> HandoverRow | None:
    """One handover; ``lock``: locked until the caller's transaction ends."""
    r = _one(conn, f"SELECT {_COLS} FROM shift_handovers WHERE id = %s"
                   + (" FOR UPDATE" if lock else ""), (handover_id,))
    return _handover(r) if r else None


def list_handovers(
    *, conn: Conn, pending_only: bool = False, limit: int = 50
) -> list[HandoverRow]:
    """Fired handovers (not superseded), newest first; ``pending_only``: not acknowledged."""
    rows = _rows(conn, f"""SELECT {_COLS} FROM shift_handovers
                           WHERE fired_at IS NOT NULL AND NOT superseded
                             AND (NOT %s OR acknowledged_at IS NULL)
                           ORDER BY at DESC, id DESC LIMIT %s""", (pending_only, limit))
    return [_handover(r) for r in rows]


def acknowledge_handover(*, conn: Conn, handover_id: int, by: str, at: datetime) -> bool:
    """Record who took over; False when it was acknowledged already (or never fired)."""
    r = _one(conn, """UPDATE shift_handovers SET acknowledged_by = %s, acknowledged_at = %s
                      WHERE id = %s AND fired_at IS NOT NULL AND NOT superseded
                        AND acknowledged_at IS NULL RETURNING id""", (by, at, handover_id))
    return r is not None


def next_handover_due(*, conn: Conn) -> datetime | None:
    r = _one(conn, "SELECT min(at) AS at FROM shift_handovers WHERE fired_at IS NULL")
    return r["at"] if r else None


def open_tickets_of(*, conn: Conn, engineers: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, number, assignee) of the open tickets assigned to ``engineers``, oldest first."""
    rows = _rows(conn, """SELECT t.id, t.number, e.code FROM tickets t
                          JOIN engineers e ON e.id = t.assignee_id
                          WHERE t.closed_at IS NULL AND e.code = ANY(%s)
                            AND t.state NOT IN ('resolved', 'signed_off', 'archived',
                                                'cancelled', 'merged')
                          ORDER BY t.id""", (list(engineers),))
    return [(int(r["id"]), str(r["number"]), str(r["code"])) for r in rows]


# A fired handover whose tickets are still to go to the incoming shift (due when acknowledged,
# or a policy's time after it fired).
_TO_REASSIGN = """fired_at IS NOT NULL AND reassigned_at IS NULL AND NOT superseded"""


def claim_due_reassignments(*, conn: Conn, now: datetime, after: timedelta) -> list[HandoverRow]:
    """Lock the fired handovers whose tickets are due to be reassigned at ``now`` (acknowledged,
    or unacknowledged for ``after``), oldest first, skipping any another process holds. Call
    inside a transaction; the locks last until it ends."""
    rows = _rows(conn, f"""SELECT {_COLS} FROM shift_handovers
                           WHERE {_TO_REASSIGN}
                             AND (acknowledged_at IS NOT NULL OR fired_at <= %s)
                           ORDER BY at, id FOR UPDATE SKIP LOCKED""", (now - after,))
    return [_handover(r) for r in rows]


def mark_reassigned(*, conn: Conn, handover_id: int, at: datetime) -> bool:
    """Record that a handover's tickets were reassigned; False if they had been already."""
    r = _one(conn, f"""UPDATE shift_handovers SET reassigned_at = %s
                       WHERE id = %s AND {_TO_REASSIGN} RETURNING id""", (at, handover_id))
    return r is not None


def next_reassignment_due(*, conn: Conn, after: timedelta) -> datetime | None:
    """When the next handover's tickets are due to be reassigned (None: none are waiting)."""
    r = _one(conn, f"""SELECT min(COALESCE(acknowledged_at, fired_at + %s)) AS at
                       FROM shift_handovers WHERE {_TO_REASSIGN}""", (after,))
    return r["at"] if r else None
