"""An overdue inspection escalates like an SLA breach, from database timers fired on a
controllable clock: a warning before its due date, the breach after the policy's grace, the
service policy's ladder after that; each once, across a restart (a new connection), and
nothing once the work order is done or moved; the notices through the notification routes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import psycopg

from maintenance.orders import cancel, complete, start
from maintenance.policy import builtin_policy
from maintenance.service import sync
from maintenance.timers import BREACH, ESCALATION, WARNING, fire_due_inspections, inspection_pass
from storage import inspection_timers as itstore
from storage import maintenance as store
from storage.connect import connect
from storage.timers import get_clock, next_due
from tests.maintenance.fleet import NOW, seed
from ticketing.notify.channels import ChannelConfig
from ticketing.notify.service import Notifier
from ticketing.policy import builtin_policy as service_policy
from ticketing.timers import run_timers

POLICY = builtin_policy()
STEPS = service_policy().escalation.steps
GRACE = timedelta(hours=POLICY.scheduling.overdue_escalate_h)
WARN = timedelta(hours=POLICY.overdue.warn_before_h)


def _hardware(db: psycopg.Connection, robot: str) -> store.InspectionRow:
    rows, _ = store.list_inspections(conn=db, robot=robot, open_only=True)
    return next(r for r in rows if r.plan == "hardware")


def _fire(db_url: str, at: datetime) -> list[tuple[int, str, int]]:
    # A fresh connection each time: what a restarted timer loop would see.
    with psycopg.connect(db_url) as conn:
        fired = fire_due_inspections(conn=conn, now=at, steps=STEPS)
        conn.commit()
    return [(f.inspection_id, f.event, f.step) for f in fired]


def test_warning_breach_and_the_ladder_fire_once_each(db: psycopg.Connection,
                                                      db_url: str) -> None:
    seed(db)
    sync(conn=db, policy=POLICY, now=NOW, actor="test")
    db.commit()
    hw = _hardware(db, "R1")
    timers = itstore.inspection_timers(conn=db, inspection_id=hw.id)
    assert [(t.action, t.due_at) for t in timers] == [
        ("warn", hw.due_at - WARN), ("breach", hw.due_at + GRACE)]

    assert [e for e in _fire(db_url, hw.due_at - WARN - timedelta(minutes=1))
            if e[0] == hw.id] == []
    assert (hw.id, WARNING, 0) in _fire(db_url, hw.due_at - WARN)
    assert [e for e in _fire(db_url, hw.due_at) if e[0] == hw.id] == []  # never twice
    breach = hw.due_at + GRACE
    # The breach starts the ladder; its first rung fires from the next pass on.
    mine = [e for e in _fire(db_url, breach) if e[0] == hw.id]
    assert mine == [(hw.id, BREACH, 0)]
    first, second = STEPS[0], STEPS[1]
    assert [e for e in _fire(db_url, breach + first.after) if e[0] == hw.id] == [
        (hw.id, ESCALATION, first.level)]
    later = breach + first.after + second.after
    assert [e for e in _fire(db_url, later) if e[0] == hw.id] == [
        (hw.id, ESCALATION, second.level)]
    assert [e for e in _fire(db_url, later) if e[0] == hw.id] == []

    db.rollback()  # a fresh snapshot
    row = store.get_inspection(conn=db, inspection_id=hw.id)
    assert row is not None and row.escalated_at == breach + first.after
    assert row.state == hw.state  # escalation keeps the state
    events = [e for e in store.inspection_events(conn=db, inspection_id=hw.id)
              if e.actor == "system"]
    assert [e.event for e in events] == [WARNING, BREACH, ESCALATION, ESCALATION]
    assert events[2].data["to"] == first.to and events[2].data["role"] == first.role
    assert events[2].data["level"] == first.level
    run = get_clock(conn=db, clock_id=timers[0].clock_id)
    assert run is not None and run.warned_at is not None and run.breached_at == breach


def test_completing_or_cancelling_stops_the_clock(db: psycopg.Connection, db_url: str) -> None:
    seed(db)
    sync(conn=db, policy=POLICY, now=NOW, actor="test")
    db.commit()
    r1, r3 = _hardware(db, "R1"), _hardware(db, "R3")
    (run1,) = itstore.open_inspection_clocks(conn=db, inspection_id=r1.id)
    (run3,) = itstore.open_inspection_clocks(conn=db, inspection_id=r3.id)
    start(conn=db, inspection_id=r1.id, actor="li", now=NOW)
    complete(conn=db, inspection_id=r1.id, results={"fans": "ok"}, findings=[], counters={},
             actor="li", now=NOW + timedelta(hours=1))
    cancel(conn=db, inspection_id=r3.id, reason="robot decommissioned", actor="manager",
           now=NOW + timedelta(hours=1))
    db.commit()
    far = max(r1.due_at, r3.due_at) + timedelta(days=30)
    assert {i for i, _, _ in _fire(db_url, far)}.isdisjoint({r1.id, r3.id})
    for iid, run_id, why in ((r1.id, run1.id, "met"), (r3.id, run3.id, "cancelled")):
        run = get_clock(conn=db, clock_id=run_id)
        assert run is not None and run.closed_why == why
        assert [t for t in itstore.inspection_timers(conn=db, inspection_id=iid)
                if t.fired_at is None] == []


def test_moving_the_due_date_rearms_the_clock(db: psycopg.Connection) -> None:
    ids = seed(db)
    sync(conn=db, policy=POLICY, now=NOW - timedelta(hours=12), actor="test")
    before = _hardware(db, "R1")
    store.record_health(conn=db, robot_id=ids["R1"], component="J3", kind="vibration_high",
                        at=NOW - timedelta(hours=6), indicator=4.0, health=0.8,
                        rul_s=400 * 3600.0, rul_low_s=300 * 3600.0, rul_high_s=600 * 3600.0)
    store.record_health(conn=db, robot_id=ids["R1"], component="J3", kind="vibration_high",
                        at=NOW, indicator=5.0, health=0.55, rul_s=200 * 3600.0,
                        rul_low_s=90 * 3600.0, rul_high_s=300 * 3600.0)
    sync(conn=db, policy=POLICY, now=NOW, actor="test")
    db.commit()
    after = _hardware(db, "R1")
    assert after.id == before.id and after.due_at < before.due_at
    (run,) = itstore.open_inspection_clocks(conn=db, inspection_id=after.id)
    assert run.due_at == after.due_at + GRACE
    pending = [t for t in itstore.inspection_timers(conn=db, inspection_id=after.id)
               if t.fired_at is None]
    assert {t.action for t in pending} == {"breach"} | ({"warn"} if after.due_at - WARN > NOW
                                                        else set())
    assert all(t.clock_id == run.id for t in pending)


def test_the_warning_and_the_breach_go_through_the_notification_routes(
        db: psycopg.Connection, db_url: str) -> None:
    seed(db)
    db.execute("UPDATE engineers SET email = 'li@example.com' WHERE code = 'li'")
    sync(conn=db, policy=POLICY, now=NOW, actor="test")
    db.commit()
    hw = _hardware(db, "R1")
    breach = hw.due_at + GRACE
    _fire(db_url, hw.due_at - WARN)
    _fire(db_url, breach)
    rules = service_policy().notifications
    assert rules is not None
    notifier = Notifier(conninfo=db_url, rules=rules, channels=ChannelConfig(),
                        clock=lambda: breach)
    try:
        assert notifier.plan() > 0
        assert notifier.plan() == 0  # the cursor moved: nothing is planned twice
    finally:
        notifier.close()
    db.rollback()
    sent = db.execute("""SELECT e.event, n.channel, n.recipient, n.subject
                         FROM notifications n JOIN inspection_events e
                              ON e.id = n.inspection_event_id
                         WHERE e.inspection_id = %s ORDER BY n.id""", (hw.id,)).fetchall()
    # The default routes tell the assignee (the visit's engineer) of warnings and breaches.
    assert [(ev, ch, to) for ev, ch, to, _ in sent] == [
        (WARNING, "email", "li@example.com"), (BREACH, "email", "li@example.com")]
    assert sent[1][3].startswith(f"[robowatch] INS-{hw.id} grade IV: SLA breached")


async def test_the_ticketing_timer_loop_fires_inspection_timers(db_url: str) -> None:
    with connect(db_url) as conn:
        seed(conn)
        sync(conn=conn, policy=POLICY, now=NOW, actor="test")
        conn.commit()
        hw = _hardware(conn, "R1")
    policy = service_policy()
    now = [hw.due_at + GRACE + STEPS[0].after]  # past the breach and the first rung
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.create_task(run_timers(conninfo=db_url, policy=policy, stop=stop, wake=wake,
                                          clock=lambda: now[0], also=(inspection_pass,)))
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        with connect(db_url, autocommit=True) as conn:
            nxt = next_due(conn=conn)
        if nxt is None or nxt > now[0]:
            break
        assert asyncio.get_running_loop().time() < deadline, "timers not fired in time"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, timeout=10)
    with connect(db_url, autocommit=True) as conn:
        fired = [(e.event, e.data.get("level")) for e in
                 store.inspection_events(conn=conn, inspection_id=hw.id) if e.actor == "system"]
    assert fired == [(WARNING, None), (BREACH, None), (ESCALATION, STEPS[0].level)]
