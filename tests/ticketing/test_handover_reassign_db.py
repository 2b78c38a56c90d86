"""A shift handover reassigns the tickets of the people who went home (policy ``[handover]``):
on acknowledgement or, unacknowledged, by the timer; once, across restarts; never when the
policy switches it off."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from storage import duty as dstore
from storage import tickets as store
from storage.connect import connect
from tests.ticketing.fleet import T0, act, anomaly, register, timer_loop_lifetime

# The day/night rota of the duty tests (E-01 by day, E-02 by night, M-01 round the clock) and
# their fixture "conn", that rota in force.
from tests.ticketing.test_duty_db import _rota, duty_conn  # noqa: F401 - a fixture
from ticketing.dispatch import auto_dispatch
from ticketing.duty import acknowledge, fire_handovers, put_roster_in_force
from ticketing.handover import next_reassignment_due, reassign_handed_over
from ticketing.intake import ticket_anomaly
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
OFF = POLICY.model_copy(update={"handover": POLICY.handover.model_copy(
    update={"reassign": False})}) if POLICY.handover else POLICY
SH = ZoneInfo("Asia/Shanghai")
DAY = T0                                             # 16:00 in Shanghai: E-01's day shift
CHANGE = datetime(2026, 11, 21, 20, 0, tzinfo=SH)    # to the night shift: E-02
M = timedelta(minutes=1)


def _grade_iv(db_url: str, conn: store.Conn, robot: str) -> int:
    """A grade IV ticket dispatched to E-01 by day and accepted."""
    robots = {str(r[0]): int(r[1]) for r in conn.execute("SELECT code, id FROM robots")}
    aid = anomaly(db_url, robots[robot], impact="minor", kind="vibration", started_at=DAY)
    tid = ticket_anomaly(conn=conn, anomaly_id=aid, policy=POLICY, now=DAY).ticket_id
    assert tid is not None
    assert auto_dispatch(conn=conn, ticket_id=tid, policy=POLICY, now=DAY) == "E-01"
    act(conn, tid, "accept", DAY + M, policy=POLICY)
    return tid


def _reassigns(conn: store.Conn, tid: int) -> list[store.TicketEventRow]:
    return [e for e in store.ticket_events(conn=conn, ticket_id=tid) if e.event == "reassign"]


def _field_handover(conn: store.Conn, now: datetime) -> int:
    fire_handovers(conn=conn, now=DAY)   # schedules the 20:00 change
    [h] = [f for f in fire_handovers(conn=conn, now=now) if f.team == "field"]
    return h.handover_id


def test_acknowledging_reassigns_the_listed_tickets_by_the_dispatch_rules_once(db_url, conn):
    first, second, moved_by_hand = (_grade_iv(db_url, conn, r) for r in ("R-I1", "R-O1", "R-C1"))
    hid = _field_handover(conn, CHANGE + M)
    act(conn, moved_by_hand, "reassign", CHANGE + 2 * M, policy=POLICY, actor="disp:wang",
        assignee="M-02", reason="the deputy manager takes this one")
    # Not acknowledged, not yet 30 min: nothing moves.
    assert reassign_handed_over(conn=conn, now=CHANGE + 10 * M, policy=POLICY) == []
    acknowledge(conn=conn, handover_id=hid, actor="zhao", engineer="E-02", now=CHANGE + 11 * M)
    assert next_reassignment_due(conn=conn, policy=POLICY) == CHANGE + 11 * M
    [done] = reassign_handed_over(conn=conn, now=CHANGE + 11 * M, policy=POLICY)
    assert done.handover_id == hid and done.kept == (moved_by_hand,)
    assert sorted((a, b) for _, a, b in done.moved) == [("E-01", "E-02")] * 2
    for tid in (first, second):
        t = store.get_ticket(conn=conn, ticket_id=tid)
        assert t is not None and t.state == "dispatched" and t.assignee == "E-02"
        [ev] = _reassigns(conn, tid)
        assert ev.actor == "system" and ev.data["handover_id"] == hid
        assert ev.data["from"] == "E-01" and ev.data["assignee"] == t.assignee
        assert "handover" in ev.data["reason"]
    assert [e.actor for e in _reassigns(conn, moved_by_hand)] == ["disp:wang"]
    # Again, and from another connection (a restarted service): nothing twice.
    assert reassign_handed_over(conn=conn, now=CHANGE + 12 * M, policy=POLICY) == []
    with connect(db_url, autocommit=True) as again:
        assert reassign_handed_over(conn=again, now=CHANGE + 60 * M, policy=POLICY) == []
    assert all(len(_reassigns(conn, t)) == 1 for t in (first, second, moved_by_hand))
    assert next_reassignment_due(conn=conn, policy=POLICY) is None
    h = dstore.get_handover(conn=conn, handover_id=hid)
    assert h is not None and h.reassigned_at == CHANGE + 11 * M


def test_the_policy_switch_leaves_handed_over_tickets_with_their_assignee(db_url, conn):
    tid = _grade_iv(db_url, conn, "R-I1")
    hid = _field_handover(conn, CHANGE + M)
    acknowledge(conn=conn, handover_id=hid, actor="zhao", engineer="E-02", now=CHANGE + 2 * M)
    assert next_reassignment_due(conn=conn, policy=OFF) is None
    assert reassign_handed_over(conn=conn, now=CHANGE + 3 * M, policy=OFF) == []
    assert reassign_handed_over(conn=conn, now=CHANGE + 90 * M, policy=OFF) == []
    t = store.get_ticket(conn=conn, ticket_id=tid)
    assert t is not None and t.assignee == "E-01" and _reassigns(conn, tid) == []


async def test_unacknowledged_the_timer_loop_reassigns_once_across_a_restart(db_url):
    register(db_url)
    with connect(db_url, autocommit=True) as c:
        put_roster_in_force(conn=c, roster=_rota())
        tid = _grade_iv(db_url, c, "R-I1")
        fire_handovers(conn=c, now=DAY)
    now = [DAY]
    after = POLICY.handover.reassign_after if POLICY.handover else timedelta(0)

    def next_due(c: store.Conn) -> datetime | None:
        due = [d for d in (dstore.next_handover_due(conn=c),
                           next_reassignment_due(conn=c, policy=POLICY)) if d is not None]
        return min(due, default=None)

    async def lifetime(until: datetime) -> None:
        await timer_loop_lifetime(db_url, POLICY, now, until, next_due)

    await lifetime(CHANGE + M)                       # handed over, not yet reassigned
    with connect(db_url, autocommit=True) as c:
        assert _reassigns(c, tid) == []
        assert next_reassignment_due(conn=c, policy=POLICY) == CHANGE + M + after
    await lifetime(CHANGE + M + after)               # a new service: the timer reassigns
    await lifetime(CHANGE + 2 * M + after)           # and another: nothing twice
    with connect(db_url, autocommit=True) as c:
        [ev] = _reassigns(c, tid)
        assert ev.data["from"] == "E-01" and ev.data["assignee"] == "E-02"
        assert "not acknowledged in time" in ev.data["reason"]
        t = store.get_ticket(conn=c, ticket_id=tid)
        assert t is not None and t.state == "dispatched" and t.assignee == ev.data["assignee"]
