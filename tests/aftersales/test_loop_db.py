"""The ticketing service's timer loop fires feedback timers too (``run_timers(also=...)``),
with a controllable clock, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage import feedback as fstore
from storage import timers as tstore
from storage.connect import connect
from tests.aftersales.scenario import MON, setup
from ticketing.feedback.records import register
from ticketing.feedback.timers import feedback_pass
from ticketing.policy import builtin_policy
from ticketing.timers import run_timers

POLICY = builtin_policy("default")


async def test_the_timer_loop_warns_breaches_and_escalates_a_complaint(db_url: str):
    with connect(db_url, autocommit=True) as conn:
        setup(conn)
        rec = register(conn=conn, kind="complaint", customer="ACME", category="other",
                       urgency="general", channel="wechat", reporter="buyer",
                       summary="invoice wrong", received_at=MON, now=MON, actor="cs:anna",
                       policy=POLICY)
    now = [MON]
    stop, wake = asyncio.Event(), asyncio.Event()
    loop = asyncio.create_task(run_timers(conninfo=db_url, policy=POLICY, stop=stop, wake=wake,
                                          clock=lambda: now[0], also=(feedback_pass,)))
    now[0] = MON + timedelta(minutes=20)   # past the 15 min response
    wake.set()
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        with connect(db_url, autocommit=True) as conn:
            nxt = tstore.next_due(conn=conn)
        if nxt is None or nxt > now[0]:
            break
        assert asyncio.get_running_loop().time() < deadline, "timers not fired in time"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, timeout=10)
    with connect(db_url, autocommit=True) as conn:
        fired = [(e.event, e.data["clock"], e.data.get("level"))
                 for e in fstore.feedback_events(conn=conn, feedback_id=rec.id)
                 if e.actor == "system"]
        row = fstore.get_feedback(conn=conn, feedback_id=rec.id)
    assert fired == [("clock_warning", "respond", None), ("clock_breached", "respond", None),
                     ("escalation", "respond", 2)]
    assert row is not None and row.escalation == 2
