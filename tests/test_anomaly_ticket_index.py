"""A ticket's anomalies are found through an index (migration 0020), not a scan of them all."""

from __future__ import annotations

import psycopg

from storage.tickets import _TICKET_SELECT


def test_a_ticket_read_finds_its_anomalies_by_index(db: psycopg.Connection) -> None:
    # The tables are empty here, so the planner would scan them anyway; forbidding sequential
    # scans shows whether an index can serve the lookup at all.
    db.execute("SET LOCAL enable_seqscan = off")
    plan = "\n".join(r[0] for r in db.execute(
        f"EXPLAIN {_TICKET_SELECT} WHERE t.id = %s", (1,)).fetchall())
    assert "anomalies_ticket_idx" in plan
