"""Rejected input kept for inspection: the raw payload, where it came from, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

__all__ = ["Rejected", "QuarantineRow", "quarantine", "counts_by_reason", "list_quarantine"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    source: str
    origin: str | None
    reason: str
    detail: str | None
    payload: bytes | None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantineRow:
    id: int
    received_at: datetime
    source: str
    origin: str | None
    reason: str
    detail: str | None
    payload: bytes | None


def quarantine(*, conn: psycopg.Connection, items: Sequence[Rejected]) -> int:
    if not items:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO quarantine (received_at, source, origin, reason, detail, payload)
               VALUES (coalesce(%s, now()), %s, %s, %s, %s, %s)""",
            [(i.received_at, i.source, i.origin, i.reason, i.detail, i.payload) for i in items],
        )
    return len(items)


def counts_by_reason(*, conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall()
    return {r[0]: int(r[1]) for r in rows}


def list_quarantine(
    *, conn: psycopg.Connection, reason: str | None = None, limit: int = 100
) -> list[QuarantineRow]:
    rows = conn.execute(
        """SELECT id, received_at, source, origin, reason, detail, payload FROM quarantine
           WHERE %(reason)s::text IS NULL OR reason = %(reason)s
           ORDER BY id DESC LIMIT %(limit)s""",
        {"reason": reason, "limit": limit},
    ).fetchall()
    return [
        QuarantineRow(id=r[0], received_at=r[1], source=r[2], origin=r[3], reason=r[4],
                      detail=r[5], payload=bytes(r[6]) if r[6] is not None else None)
        for r in rows
    ]
