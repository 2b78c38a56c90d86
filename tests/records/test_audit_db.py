"""The tamper-evident history on a real PostgreSQL: chains written by the insert trigger,
edited, deleted and cut rows found and named, archive reads logged, purges only approved."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from storage import audit
from storage.connect import connect
from tests.ticketing.fleet import T0, act, register
from ticketing.events import create_manual_ticket
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
M = timedelta(minutes=1)


@pytest.fixture
def conn(db_url: str):
    register(db_url)
    with connect(db_url, autocommit=True) as c:
        yield c


def _ticket(conn, robot: str = "R-C1") -> int:
    t = create_manual_ticket(conn=conn, robot=robot, channel="phone", reporter="Li Wei",
                             description="J3 alarm", impact="core-module", request="call back",
                             actor="cs:agent-7", now=T0, policy=POLICY)
    act(conn, t.id, "dispatch", T0 + 5 * M, policy=POLICY, actor="cs:agent-7", assignee="M-01")
    act(conn, t.id, "accept", T0 + 10 * M, policy=POLICY, actor="mgr:M-01")
    act(conn, t.id, "send_update", T0 + 20 * M, policy=POLICY, actor="mgr:M-01",
        message="on it")
    return t.id


def _tamper(conn, sql: str, params: tuple[object, ...]) -> None:
    """What someone with the table owner's rights could do behind the application."""
    with conn.transaction():
        conn.execute("ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_append_only")
        conn.execute(sql, params)
        conn.execute("ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_append_only")


def _ids(conn, ticket_id: int) -> list[int]:
    return [e.id for e in audit.archive_events(conn=conn, ticket_id=ticket_id)]


def test_every_insert_is_chained_and_an_intact_history_verifies(conn):
    t1, t2 = _ticket(conn), _ticket(conn, "R-I1")
    events = audit.archive_events(conn=conn, ticket_id=t1)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert all(len(e.hash) == 64 for e in events)
    assert len({e.hash for e in events}) == 4
    assert audit.verify_chains(conn=conn) == []
    summary = audit.chain_summary(conn=conn)
    assert (summary.tickets, summary.events) == (2, 8) and len(summary.root) == 64
    assert t2 != t1


def test_a_forged_hash_in_an_insert_is_replaced_by_the_trigger(conn):
    t = _ticket(conn)
    conn.execute("""INSERT INTO ticket_events (ticket_id, event, actor, seq, prev_hash, hash)
                    VALUES (%s, 'note', 'x', 1, '\\x00', '\\x00')""", (t,))
    assert audit.archive_events(conn=conn, ticket_id=t)[-1].seq == 5
    assert audit.verify_chains(conn=conn) == []


def test_an_edited_row_is_found_and_named(conn):
    t, other = _ticket(conn), _ticket(conn, "R-I1")
    victim = _ids(conn, t)[1]
    _tamper(conn, "UPDATE ticket_events SET actor = 'someone-else' WHERE id = %s", (victim,))
    breaks = audit.verify_chains(conn=conn)
    assert [(b.ticket_id, b.event_id, b.seq, b.what) for b in breaks] == [(t, victim, 2, "edited")]
    assert f"event {victim} (#2) was edited" in breaks[0].describe()
    assert breaks[0].describe().startswith("ticket RW-")
    assert audit.verify_chains(conn=conn, ticket_id=other) == []


def test_a_rewritten_hash_breaks_the_next_link(conn):
    t = _ticket(conn)
    ids = _ids(conn, t)
    # The editor recomputes the edited row's own hash: the next event still names the old one.
    _tamper(conn, """UPDATE ticket_events SET data = '{"message": "all fine"}',
                         hash = robowatch_event_hash(id, ticket_id, seq, at, event, actor,
                                    from_state, to_state, '{"message": "all fine"}', prev_hash)
                      WHERE id = %s""", (ids[2],))
    breaks = audit.verify_chains(conn=conn)
    assert [(b.event_id, b.seq, b.what) for b in breaks] == [(ids[3], 4, "relinked")]
    assert "#3 was rewritten" in breaks[0].describe()


def test_a_deleted_row_is_found_and_named(conn):
    t = _ticket(conn)
    ids = _ids(conn, t)
    _tamper(conn, "DELETE FROM ticket_events WHERE id = %s", (ids[1],))
    breaks = audit.verify_chains(conn=conn)
    assert [(b.event_id, b.what, b.missing_from, b.missing_to) for b in breaks] == [
        (ids[2], "deleted", 2, 2)]
    assert "event #2 deleted (found before event" in breaks[0].describe()


def test_deleting_the_newest_rows_is_found_through_the_head(conn):
    t = _ticket(conn)
    ids = _ids(conn, t)
    _tamper(conn, "DELETE FROM ticket_events WHERE id = ANY(%s)", (ids[2:],))
    breaks = audit.verify_chains(conn=conn)
    assert [(b.event_id, b.what, b.missing_from, b.missing_to) for b in breaks] == [
        (ids[1], "cut", 3, 4)]


def test_plain_delete_and_update_are_still_refused(conn):
    t = _ticket(conn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM ticket_events WHERE ticket_id = %s", (t,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE ticket_events SET actor = 'x' WHERE ticket_id = %s", (t,))


def test_archive_reads_are_logged_and_append_only(conn):
    t = _ticket(conn)
    audit.log_archive_read(conn=conn, reader="alice", role="om_manager", ticket_id=t,
                           number="RW-x", what="archive", via="cli", at=T0)
    reads = audit.archive_reads(conn=conn, ticket_id=t)
    assert [(r.reader, r.role, r.what, r.via, r.at) for r in reads] == [
        ("alice", "om_manager", "archive", "cli", T0)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM archive_reads")


def test_purge_is_refused_without_approval_and_done_after_it(conn):
    t = _ticket(conn)
    conn.execute("UPDATE tickets SET closed_at = %s WHERE id = %s", (T0, t))
    with pytest.raises(audit.PurgeRefused, match="no approval"):
        audit.purge_ticket(conn=conn, ticket_id=t, today=date(2031, 1, 1), purged_by="x",
                           at=T0)
    assert len(audit.archive_events(conn=conn, ticket_id=t)) == 4
    audit.approve_purge(conn=conn, ticket_id=t, keep_until=date(2029, 11, 21),
                        approved_by="head:records", reason="retention over", at=T0)
    assert audit.archive_events(conn=conn, ticket_id=t)[-1].event == "purge_approved"
    with pytest.raises(audit.PurgeRefused, match="kept until"):
        audit.purge_ticket(conn=conn, ticket_id=t, today=date(2029, 11, 21), purged_by="x",
                           at=T0)
    done = audit.purge_ticket(conn=conn, ticket_id=t, today=date(2029, 11, 22),
                              purged_by="records-clerk", at=T0)
    assert (done.events, done.purged_by, done.approved_by) == (5, "records-clerk", "head:records")
    assert audit.archive_events(conn=conn, ticket_id=t) == []
    assert conn.execute("SELECT count(*) FROM tickets WHERE id = %s", (t,)).fetchone() == (0,)
    # The tombstone stays and the remaining chains still verify.
    assert [p.ticket_id for p in audit.purge_records(conn=conn)] == [t]
    assert audit.verify_chains(conn=conn) == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM record_purges")
