"""The live stream's log (migration ``stream_log``): what changed, numbered in commit order.

Triggers write one entry per insert or update of an anomaly or a ticket and per new history
entry of a ticket, at commit, so that entries become visible in id order: reading
``id > N`` never skips an entry that turns up later. The ``robowatch_events`` notification
of the same change arrives after the entry is visible, so a listener woken by it finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.connect import Conn
from storage.rows import fetch_all, fetch_one

__all__ = ["StreamEntry", "entries_after", "last_entry_id", "first_entry_id"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEntry:
    id: int
    type: Literal["anomaly", "ticket", "ticket_event", "part_warning", "inspection_event"]
    op: Literal["insert", "update"]
    row_id: int
    at: datetime


def entries_after(*, conn: Conn, after_id: int, limit: int) -> list[StreamEntry]:
    """At most ``limit`` entries with an id above ``after_id``, oldest first."""
    rows = fetch_all(conn, "SELECT id, type, op, row_id, at FROM stream_log WHERE id > %s "
                           "ORDER BY id LIMIT %s", (after_id, limit))
    return [StreamEntry(**r) for r in rows]


def last_entry_id(*, conn: Conn) -> int:
    """The newest entry's id; 0 when the log is empty."""
    r = fetch_one(conn, "SELECT coalesce(max(id), 0) AS n FROM stream_log")
    return int(r["n"]) if r else 0


def first_entry_id(*, conn: Conn) -> int | None:
    """The oldest entry still kept; None when the log is empty."""
    r = fetch_one(conn, "SELECT min(id) AS n FROM stream_log")
    return None if r is None or r["n"] is None else int(r["n"])
