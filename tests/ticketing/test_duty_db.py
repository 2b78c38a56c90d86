"""People on duty (real DB): dispatch by the roster, handovers at shift changes (fired once,
restart-safe, acknowledged by the incoming shift), seed 004's outside-city dispatch clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage import duty as dstore
from storage import tickets as store
from storage import timers as tstore
from storage.connect import connect
from tests.ticketing.fleet import T0, act, anomaly, register, timer_loop_lifetime
from ticketing.dispatch import auto_dispatch, choose_assignee
from ticketing.duty import acknowledge, fire_handovers, on_duty, put_roster_in_force
from ticketing.errors import HandoverRefused
from ticketing.intake import ticket_anomaly
from ticketing.policy import builtin_policy
from ticketing.roster import Absence, Roster, ShiftDef, TeamRota

POLICY = builtin_policy("default")
SH = ZoneInfo("Asia/Shanghai")
# T0 is 16:00 in Shanghai: the day shift (08-20) of E-01; E-02 works the nights.
DAY = T0
NIGHT = datetime(2026, 11, 21, 22, 0, tzinfo=SH)
CHANGE = datetime(2026, 11, 21, 20, 0, tzinfo=SH)
M = timedelta(minutes=1)


def _rota(*absences: Absence, engineers: tuple[tuple[str, ...], ...] = (("E-01",), ("E-02",)),
          ) -> Roster:
    """Engineers: day and night shifts in Shanghai, crews alternating (crew 0 = days);
    managers: M-01 round the clock."""
    field = TeamRota(name="field", role="engineer", timezone="Asia/Shanghai",
                     epoch=date(2026, 1, 1), crews=engineers,
                     shifts=(ShiftDef(name="day", start=time(8), end=time(20)),
                             ShiftDef(name="night", start=time(20), end=time(8))))
    managers = TeamRota(name="managers", role="manager", timezone="Asia/Shanghai",
                        epoch=date(2026, 1, 1), crews=(("M-01",),),
                        shifts=(ShiftDef(name="all-day", start=time(8), end=time(8)),))
    return Roster(teams=(field, managers), absences=absences)


@pytest.fixture(name="conn")
def duty_conn(db_url: str):
    """A connection with the day/night rota in force (also test_handover_reassign_db's)."""
    register(db_url)
    with connect(db_url, autocommit=True) as c:
        put_roster_in_force(conn=c, roster=_rota())
        yield c


def _grade_iv(db_url: str, conn: store.Conn, robot: str, at: datetime) -> int:
    aid = anomaly(db_url, _robots(conn)[robot], impact="minor", kind="vibration", started_at=at)
    tid = ticket_anomaly(conn=conn, anomaly_id=aid, policy=POLICY, now=at).ticket_id
    assert tid is not None
    return tid


def _robots(conn: store.Conn) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in conn.execute("SELECT code, id FROM robots")}


def test_dispatch_chooses_who_the_rota_has_on_duty_at_that_instant(db_url, conn):
    assert on_duty(conn=conn, at=DAY, role="engineer") == {"E-01"}
    assert on_duty(conn=conn, at=NIGHT, role="engineer") == {"E-02"}
    by_day = _grade_iv(db_url, conn, "R-I1", DAY)
    assert auto_dispatch(conn=conn, ticket_id=by_day, policy=POLICY, now=DAY) == "E-01"
    # At night E-01 (ABB, Suzhou, the better match) is off: the night shift's E-02 goes.
    at_night = _grade_iv(db_url, conn, "R-O1", NIGHT)
    assert auto_dispatch(conn=conn, ticket_id=at_night, policy=POLICY, now=NIGHT) == "E-02"


def test_an_absence_takes_a_person_off_and_the_cover_on(db_url, conn):
    ill = Absence(person="E-01", start=DAY - timedelta(hours=1), end=DAY + timedelta(hours=1),
                  cover="E-02", reason="ill")
    put_roster_in_force(conn=conn, roster=_rota(ill))
    tid = _grade_iv(db_url, conn, "R-I1", DAY)
    assert auto_dispatch(conn=conn, ticket_id=tid, policy=POLICY, now=DAY) == "E-02"


def test_skills_and_city_rank_before_workload(db_url, conn):
    put_roster_in_force(conn=conn, roster=_rota(engineers=(("E-01", "E-02"),)))
    first = _grade_iv(db_url, conn, "R-C1", DAY)  # core/minor: grade IV, to an engineer
    assert auto_dispatch(conn=conn, ticket_id=first, policy=POLICY, now=DAY) == "E-01"
    # E-01 now has an open ticket and E-02 none, but E-01 knows ABB and is in Suzhou.
    second = _grade_iv(db_url, conn, "R-I1", DAY + M)
    assert auto_dispatch(conn=conn, ticket_id=second, policy=POLICY, now=DAY + M) == "E-01"


def test_between_equals_the_lighter_load_goes() -> None:
    busy = store.EngineerLoad(id=1, code="E-1", role="engineer", city="Suzhou",
                              skills=["ABB"], open_tickets=3)
    free = store.EngineerLoad(id=2, code="E-2", role="engineer", city="Suzhou",
                              skills=["ABB"], open_tickets=1)
    assert choose_assignee(candidates=[busy, free], wanted_skills=["ABB"],
                           city="Suzhou") == free
    assert choose_assignee(candidates=[], wanted_skills=["ABB"]) is None


def test_no_roster_in_force_means_nobody_is_on_duty(db_url):
    register(db_url)
    with connect(db_url, autocommit=True) as c:
        c.execute("DELETE FROM duty_rosters")
        assert on_duty(conn=c, at=DAY) == frozenset()
        tid = _grade_iv(db_url, c, "R-I1", DAY)
        assert auto_dispatch(conn=c, ticket_id=tid, policy=POLICY, now=DAY) is None
        assert fire_handovers(conn=c, now=DAY) == []


def _ticket(conn: store.Conn, tid: int) -> store.TicketRow:
    t = store.get_ticket(conn=conn, ticket_id=tid)
    assert t is not None
    return t


def _handover_events(conn: store.Conn, tid: int) -> list[store.TicketEventRow]:
    return [e for e in store.ticket_events(conn=conn, ticket_id=tid)
            if e.event in ("handover", "acknowledge_handover")]


def test_handover_at_shift_change_fires_once_and_is_acknowledged_by_the_incoming(db_url, conn):
    tid = _grade_iv(db_url, conn, "R-I1", DAY)
    assert auto_dispatch(conn=conn, ticket_id=tid, policy=POLICY, now=DAY) == "E-01"
    act(conn, tid, "accept", DAY + M, policy=POLICY)
    assert fire_handovers(conn=conn, now=DAY) == []           # schedules the 20:00 change
    assert dstore.next_handover_due(conn=conn) == CHANGE
    fired = fire_handovers(conn=conn, now=CHANGE + M)
    field = [f for f in fired if f.team == "field"]
    assert [(f.leaving, f.incoming, f.tickets) for f in field] == [
        (("E-01",), ("E-02",), (_ticket(conn, tid).number,))]
    # Again, and from a second connection (a restarted service): nothing fires twice.
    assert [f for f in fire_handovers(conn=conn, now=CHANGE + 2 * M) if f.team == "field"] == []
    with connect(db_url, autocommit=True) as again:
        assert [f for f in fire_handovers(conn=again, now=CHANGE + 3 * M)
                if f.team == "field"] == []
    [ev] = _handover_events(conn, tid)
    assert ev.actor == "system" and ev.data["from"] == "E-01" and ev.data["to"] == ["E-02"]
    assert ev.data["from_shift"] == "day" and ev.data["to_shift"] == "night"
    # The next change (08:00) is scheduled: the loop wakes for it.
    assert dstore.next_handover_due(conn=conn) == CHANGE + timedelta(hours=12)

    handover_id = field[0].handover_id
    with pytest.raises(HandoverRefused) as leaving:
        acknowledge(conn=conn, handover_id=handover_id, actor="chen", engineer="E-01",
                    now=CHANGE + 5 * M)
    assert leaving.value.status == 403
    done = acknowledge(conn=conn, handover_id=handover_id, actor="zhao", engineer="E-02",
                       now=CHANGE + 6 * M)
    assert done.acknowledged_by == "zhao" and done.tickets == [tid]
    with pytest.raises(HandoverRefused) as twice:
        acknowledge(conn=conn, handover_id=handover_id, actor="wang", engineer=None,
                    now=CHANGE + 7 * M)
    assert twice.value.status == 409
    events = _handover_events(conn, tid)
    assert [(e.event, e.actor) for e in events] == [("handover", "system"),
                                                    ("acknowledge_handover", "zhao")]
    assert events[1].data["handover_id"] == handover_id


def test_down_across_several_changes_hands_over_the_last_one_only(db_url, conn):
    tid = _grade_iv(db_url, conn, "R-I1", DAY)
    auto_dispatch(conn=conn, ticket_id=tid, policy=POLICY, now=DAY)
    fire_handovers(conn=conn, now=DAY)
    # Back 25 h later (Sunday 17:00 local): the changes at 20:00 and 08:00 have passed.
    back = DAY + timedelta(hours=25)
    field = [f for f in fire_handovers(conn=conn, now=back) if f.team == "field"]
    assert [(f.at, f.superseded) for f in field] == [(CHANGE, True),
                                                     (CHANGE + timedelta(hours=12), False)]
    # 08:00 Sunday fired last: night (E-02) to day (E-01); E-01's ticket stays with E-01.
    latest = dstore.list_handovers(conn=conn)
    assert [(h.team, h.at, h.leaving, h.incoming) for h in latest if h.team == "field"] == [
        ("field", CHANGE + timedelta(hours=12), ["E-02"], ["E-01"])]
    assert _handover_events(conn, tid) == []


async def test_the_timer_loop_fires_handovers_once_across_a_restart(db_url):
    register(db_url)
    with connect(db_url, autocommit=True) as c:
        put_roster_in_force(conn=c, roster=_rota())
        tid = _grade_iv(db_url, c, "R-I1", DAY)
        assert auto_dispatch(conn=c, ticket_id=tid, policy=POLICY, now=DAY) == "E-01"
        act(c, tid, "accept", DAY + M, policy=POLICY)  # or the lapse would reassign it
        fire_handovers(conn=c, now=DAY)  # the service ran by day: the 20:00 change is known
    now = [DAY]

    async def lifetime(until: datetime) -> None:
        await timer_loop_lifetime(db_url, POLICY, now, until,
                                  lambda c: dstore.next_handover_due(conn=c))

    await lifetime(CHANGE + M)
    await lifetime(CHANGE + 2 * M)   # a new service over the same database
    with connect(db_url, autocommit=True) as c:
        assert [e.event for e in _handover_events(c, tid)] == ["handover"]
        fired = [h for h in dstore.list_handovers(conn=c) if h.team == "field"]
        assert [(h.at, h.tickets) for h in fired] == [(CHANGE, [tid])]


SEED004 = builtin_policy("seed004")


def _dispatch_allowed(conn: store.Conn, tid: int) -> timedelta:
    [run] = [c for c in tstore.clocks_of(conn=conn, ticket_id=tid) if c.clock == "dispatch"]
    return run.allowed


def test_seed004_allows_two_hours_to_dispatch_when_nobody_is_on_duty_in_the_city(db_url, conn):
    # By day E-01 (Suzhou, like every robot of the fleet) is on duty: 30 min.
    local = _robots(conn)["R-I1"]
    aid = anomaly(db_url, local, impact="minor", kind="vibration", started_at=DAY)
    in_city = ticket_anomaly(conn=conn, anomaly_id=aid, policy=SEED004, now=DAY).ticket_id
    assert in_city is not None and _dispatch_allowed(conn, in_city) == timedelta(minutes=30)
    # At night only E-02 (Wuxi) is: whoever goes travels, 2 h.
    aid = anomaly(db_url, _robots(conn)["R-O1"], impact="minor", kind="vibration",
                  started_at=NIGHT)
    outside = ticket_anomaly(conn=conn, anomaly_id=aid, policy=SEED004, now=NIGHT).ticket_id
    assert outside is not None and _dispatch_allowed(conn, outside) == timedelta(hours=2)
    assert _ticket(conn, outside).grade == "IV"
    # The default policy has no such rule: 15 min either way.
    aid = anomaly(db_url, _robots(conn)["R-C2"], impact="minor", kind="vibration",
                  started_at=NIGHT)
    plain = ticket_anomaly(conn=conn, anomaly_id=aid, policy=POLICY, now=NIGHT).ticket_id
    assert plain is not None and _dispatch_allowed(conn, plain) == timedelta(minutes=15)
