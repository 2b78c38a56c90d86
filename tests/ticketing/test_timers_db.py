"""Clocks that act, on a real PostgreSQL with a controllable clock: a ticket of every grade and
tier of the default policy through its whole life, with every warning, breach, escalation,
re-dispatch and progress reminder checked against the rules' table; a restart mid-way; two
firing passes racing for one timer."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from storage import tickets as store
from storage import timers as tstore
from storage.connect import connect
from tests.ticketing.fleet import T0, act, register, timer_loop_lifetime
from ticketing.events import SYSTEM, create_manual_ticket
from ticketing.policy import builtin_policy
from ticketing.timers import fire_due

# The ticket's own life: the after-sales clocks a completed ticket starts (callback survey,
# root-cause report) are tests/aftersales' part.
POLICY = builtin_policy("default").model_copy(
    update={"feedback": None, "callbacks": None, "improvement": None})
M, H = timedelta(minutes=1), timedelta(hours=1)
REPORT = {"process": "on site", "cause": "fan failure", "solution": "fan replaced",
          "parts_used": ["fan-24V"], "before_after": "J3 92 C -> 61 C"}
# Tier -> a robot of that tier in tests/ticketing/fleet.py.
ROBOT = {"core": "R-C1", "important": "R-I1", "ordinary": "R-O1"}
# (grade, tier) -> respond, onsite, plan, resolve, update cadence (service rules section 3).
TABLE: dict[tuple[str, str], tuple[timedelta, timedelta | None, timedelta | None, timedelta,
                                   timedelta | None]] = {
    ("I", "core"): (15 * M, 1 * H, 2 * H, 24 * H, 2 * H),
    ("I", "important"): (15 * M, 1 * H, 2 * H, 24 * H, 2 * H),
    ("I", "ordinary"): (15 * M, 1 * H, 2 * H, 24 * H, 2 * H),
    ("II", "core"): (30 * M, 2 * H, 4 * H, 48 * H, 4 * H),
    ("II", "important"): (30 * M, 4 * H, 6 * H, 72 * H, 4 * H),
    ("II", "ordinary"): (30 * M, 4 * H, 6 * H, 72 * H, 4 * H),
    ("III", "core"): (1 * H, 2 * H, None, 24 * H, 12 * H),
    ("III", "important"): (1 * H, 2 * H, None, 24 * H, 12 * H),
    ("III", "ordinary"): (1 * H, 4 * H, None, 48 * H, 12 * H),
    ("IV", "core"): (2 * H, None, None, 4 * H, None),
    ("IV", "important"): (2 * H, None, None, 4 * H, None),
    ("IV", "ordinary"): (2 * H, None, None, 4 * H, None),
}
# The impact that grades a tier so, by the matrix; None: only a regrade gets there.
IMPACT = {("I", "core"): "stoppage", ("II", "core"): "core-module",
          ("II", "important"): "stoppage", ("III", "core"): "non-core",
          ("III", "important"): "non-core", ("III", "ordinary"): "stoppage",
          ("IV", "core"): "minor", ("IV", "important"): "minor", ("IV", "ordinary"): "minor"}
LADDER = ((2, 0 * H), (3, 2 * H), (4, 10 * H))  # default.toml: at the breach, +2 h, +8 h more
PAUSE = (2 * H, 3 * H)                           # waiting for the customer


@pytest.fixture
def conn(db_url: str):
    register(db_url)
    with connect(db_url, autocommit=True) as c:
        yield c


def run_until(conn: store.Conn, until: datetime) -> None:
    """A perfectly punctual timer loop: fire each timer at its due time, up to ``until``."""
    while (due := tstore.next_due(conn=conn)) is not None and due <= until:
        assert fire_due(conn=conn, now=due, policy=POLICY)


def system_events(conn: store.Conn) -> list[tuple[timedelta, str, str, int]]:
    out = []
    for e in store.events_since(conn=conn, after_id=0):
        if e.actor == SYSTEM:
            out.append((e.at - T0, e.event, str(e.data.get("clock", "confirm")),
                        int(e.data.get("level", 0))))
    return out


@dataclass(frozen=True)
class Run:
    """One run of a clock in the script, for the expectation: counted 24x7, paused by PAUSE
    when it was running then."""

    clock: str
    start: timedelta
    allowed: timedelta
    end: timedelta           # met or closed
    escalates: bool = True
    on_breach: str = "clock_breached"

    def shifted(self, d: timedelta) -> timedelta:
        running = self.start <= PAUSE[0] < self.end
        return d + (PAUSE[1] - PAUSE[0]) if running and d > PAUSE[0] else d

    def fires(self) -> list[tuple[timedelta, str, str, int]]:
        out = []
        warn = self.shifted(self.start + self.allowed * 0.8)
        breach = self.shifted(self.start + self.allowed)
        if warn <= self.end:
            out.append((warn, "clock_warning", self.clock, 0))
        if breach <= self.end:
            out.append((breach, "clock_breached", self.clock, 0))
            if self.on_breach == "reassign":
                out.append((breach, "reassign", self.clock, 0))
            elif self.escalates:
                out += [(breach + after, "escalation", self.clock, level)
                        for level, after in LADDER if breach + after <= self.end]
        return out


def _script(grade: str, tier: str):
    """The life of the ticket: (offset from T0, event, details), and the clock runs it makes."""
    respond, onsite, plan, resolve, update = TABLE[(grade, tier)]
    first, second = ("M-01", "M-02") if grade in ("I", "II") else ("E-01", "E-02")
    pause = PAUSE[1] - PAUSE[0]
    resolved = H + resolve * 0.9 if grade != "IV" else H + resolve * 0.9
    steps: list[tuple[timedelta, str, dict[str, Any]]] = [
        (5 * M, "dispatch", {"assignee": first}),
        (40 * M, "accept", {"actor_": second}),
        (45 * M, "start_travel", {}),
        (50 * M, "send_update", {"message": "engineer on the way"}),
        (55 * M, "arrive", {}),
        (90 * M, "submit_plan", {"plan": "replace the fan"}),
        (PAUSE[0], "wait_customer", {"reason": "line in production until the shift change"}),
        (PAUSE[1], "resume", {}),
        (4 * H, "send_update", {"message": "fan ordered"}),
    ]
    runs = [Run("dispatch", 0 * H, 15 * M, 5 * M),
            Run("confirm", 5 * M, 30 * M, 35 * M, escalates=False, on_breach="reassign"),
            Run("confirm", 35 * M, 30 * M, 40 * M, escalates=False, on_breach="reassign"),
            Run("respond", 0 * H, respond, 40 * M)]
    if onsite:
        runs.append(Run("onsite", 0 * H, onsite, 55 * M))
    if plan:
        runs.append(Run("plan", 0 * H, plan, 90 * M))
    if update:
        runs += [Run("update", 0 * H, update, 50 * M, escalates=False),
                 Run("update", 50 * M, update, 4 * H, escalates=False),
                 Run("update", 4 * H, update, resolved, escalates=False)]
    if grade == "IV":
        # The extension with a reason: 4 h -> 8 h, the pause still counted.
        steps.append((4 * H + 20 * M, "extend_resolve", {"reason": "encoder on order, told"}))
        runs += [Run("resolve", 0 * H, resolve, 4 * H + 20 * M),
                 Run("resolve", 0 * H, 8 * H, resolved)]
        steps += [(resolved, "resolve", {"report": REPORT}),
                  (resolved + 30 * M, "send_update", {"message": "done, please sign"}),
                  (resolved + 45 * M, "sign_off", {})]
        runs.append(Run("final_update", resolved, H, resolved + 30 * M, escalates=False))
    else:
        runs.append(Run("resolve", 0 * H, resolve, resolved))
        steps += [(resolved, "resolve", {"report": REPORT}), (resolved + 45 * M, "sign_off", {})]
    steps.append((resolved + 46 * M, "archive", {}))
    expected = sorted((f for r in runs for f in r.fires()), key=lambda f: f[0])
    deadlines = {"respond_by": respond, "onsite_by": onsite and onsite + pause * 0,
                 "plan_by": plan, "resolve_by": (8 * H if grade == "IV" else resolve) + pause}
    return steps, expected, deadlines


def _live(conn: store.Conn, tid: int, steps) -> None:
    for offset, event, details in steps:
        run_until(conn, T0 + offset)
        actor = details.pop("actor_", "eng:desk")
        act(conn, tid, event, T0 + offset, policy=POLICY, actor=actor, **details)


@pytest.mark.parametrize(("grade", "tier"), sorted(TABLE))
def test_every_grade_and_tier_lives_its_whole_life_on_time(conn, grade, tier):
    impact = IMPACT.get((grade, tier), "minor")
    t = create_manual_ticket(conn=conn, robot=ROBOT[tier], channel="phone", reporter="Li Wei",
                             description="J3 overheats", impact=impact, request="send someone",
                             actor="cs:agent-7", now=T0, policy=POLICY)
    if t.grade != grade:  # grades the matrix does not give this tier: the receiver regrades
        t = act(conn, t.id, "regrade", T0, policy=POLICY, grade=grade, reason="O&M review")
    steps, expected, deadlines = _script(grade, tier)
    _live(conn, t.id, steps[:8])  # up to the resume
    resumed = store.get_ticket(conn=conn, ticket_id=t.id)
    assert resumed is not None
    # Met clocks keep their deadline; resolve moved by the hour spent waiting.
    assert resumed.respond_by == T0 + deadlines["respond_by"]
    assert resumed.onsite_by == (T0 + deadlines["onsite_by"] if deadlines["onsite_by"] else None)
    assert resumed.plan_by == (T0 + deadlines["plan_by"] if deadlines["plan_by"] else None)
    assert resumed.resolve_by == T0 + TABLE[(grade, tier)][3] + H
    _live(conn, t.id, steps[8:])
    run_until(conn, T0 + 100 * H)

    assert system_events(conn) == expected
    final = store.get_ticket(conn=conn, ticket_id=t.id)
    assert final is not None and final.state == "archived"
    assert final.resolve_by == T0 + deadlines["resolve_by"]
    assert final.assignee == ("M-02" if grade in ("I", "II") else "E-02")
    assert final.escalation == max([1] + [lvl for _, ev, _, lvl in expected if ev == "escalation"])
    # Every clock run has its verdict; nothing is left to fire.
    runs = tstore.clocks_of(conn=conn, ticket_id=t.id)
    assert all(r.closed_at is not None for r in runs)
    respond = [r for r in runs if r.clock == "respond"][-1]  # a regrade replaced the first
    assert respond.met_at == T0 + 40 * M
    assert (respond.breached_at is not None) == (grade in ("I", "II"))
    assert tstore.unfired_timers(conn=conn, ticket_id=t.id) == []
    # Each fired timer wrote its row once (a re-dispatch writes its breach and the reassign).
    by_timer = [(e.event, e.data["timer_id"]) for e in store.events_since(conn=conn, after_id=0)
                if "timer_id" in e.data]
    assert len(by_timer) == len(set(by_timer))
    assert {tid for _, tid in by_timer} == {x.id for x in tstore.timers_of(conn=conn,
                                                                          ticket_id=t.id)}


def test_grade_i_core_in_plain_words(conn):
    """The table above, spelt out once for the most urgent ticket."""
    t = create_manual_ticket(conn=conn, robot="R-C1", channel="wechat", reporter="Li Wei",
                             description="line stopped", impact="stoppage", request=None,
                             actor="cs:agent-7", now=T0, policy=POLICY)
    steps, _, _ = _script("I", "core")
    _live(conn, t.id, steps)
    run_until(conn, T0 + 100 * H)
    assert system_events(conn) == [
        (12 * M, "clock_warning", "respond", 0),     # 80 % of 15 min
        (15 * M, "clock_breached", "respond", 0),
        (15 * M, "escalation", "respond", 2),        # to the O&M manager at once
        (29 * M, "clock_warning", "confirm", 0),     # M-01 has 6 min left to confirm
        (35 * M, "clock_breached", "confirm", 0),
        (35 * M, "reassign", "confirm", 0),          # ... and lost it to M-02
        (48 * M, "clock_warning", "onsite", 0),      # 80 % of 1 h; arrived at 55 min
        (3 * H + 26 * M, "clock_warning", "update", 0),   # progress reminder, pause moved it
        (3 * H + 50 * M, "clock_breached", "update", 0),  # 2 h after 50 min + 1 h paused
        (5 * H + 36 * M, "clock_warning", "update", 0),   # next cadence from the 4 h update
        (6 * H, "clock_breached", "update", 0),
        (20 * H + 12 * M, "clock_warning", "resolve", 0),  # 80 % of 24 h + the pause
    ]
    reassign = [e for e in store.ticket_events(conn=conn, ticket_id=t.id)
                if e.event == "reassign"][0]
    assert reassign.data["from"] == "M-01" and reassign.data["assignee"] == "M-02"
    assert reassign.data["lapsed"] is True and reassign.actor == SYSTEM


def test_no_one_left_to_reassign_climbs_the_ladder(conn):
    t = create_manual_ticket(conn=conn, robot="R-O1", channel="email", reporter="Wang",
                             description="slow cycle", impact="minor", request=None,
                             actor="cs:agent-7", now=T0, policy=POLICY)
    act(conn, t.id, "dispatch", T0, policy=POLICY, assignee="E-01")
    run_until(conn, T0 + 31 * M)   # E-01 lapses -> E-02
    run_until(conn, T0 + 62 * M)   # E-02 lapses too: nobody left
    tail = [x for x in system_events(conn) if x[2] == "confirm"]
    assert tail == [(24 * M, "clock_warning", "confirm", 0),
                    (30 * M, "clock_breached", "confirm", 0), (30 * M, "reassign", "confirm", 0),
                    (54 * M, "clock_warning", "confirm", 0),
                    (60 * M, "clock_breached", "confirm", 0),
                    (60 * M, "escalation", "confirm", 2)]
    now = store.get_ticket(conn=conn, ticket_id=t.id)
    assert now is not None and now.assignee == "E-02" and now.escalation == 2
    act(conn, t.id, "accept", T0 + 70 * M, policy=POLICY, actor="eng:E-02")
    run_until(conn, T0 + 20 * H)  # the climb stops once someone confirms
    assert [x[3] for x in system_events(conn) if x[1:3] == ("escalation", "confirm")] == [2]


async def test_restart_mid_way_loses_nothing_and_fires_nothing_twice(db_url):
    """Two service lifetimes of the timer loop over one database, with a controllable clock."""
    register(db_url)
    now = [T0]
    with connect(db_url, autocommit=True) as c:
        t = create_manual_ticket(conn=c, robot="R-C1", channel="phone", reporter="Li",
                                 description="stopped", impact="stoppage", request=None,
                                 actor="cs:agent-7", now=T0, policy=POLICY)

    async def lifetime(until: datetime, policy_name: str) -> None:
        await timer_loop_lifetime(db_url, builtin_policy(policy_name), now, until,
                                  lambda c: tstore.next_due(conn=c))

    await lifetime(T0 + 20 * M, "default")   # respond and dispatch breached, first rungs
    with connect(db_url, autocommit=True) as c:
        before = [(e.event, e.data["clock"], e.data.get("level")) for e in
                  store.events_since(conn=c, after_id=0) if e.actor == SYSTEM]
    assert before == [("clock_warning", "dispatch", None), ("clock_warning", "respond", None),
                      ("clock_breached", "dispatch", None), ("escalation", "dispatch", 2),
                      ("clock_breached", "respond", None), ("escalation", "respond", 2)]
    await lifetime(T0 + 3 * H, "default")    # a new service: the later rungs, nothing again
    with connect(db_url, autocommit=True) as c:
        history = store.events_since(conn=c, after_id=0)
        timers = tstore.timers_of(conn=c, ticket_id=t.id)
    from_timers = [e.data["timer_id"] for e in history if "timer_id" in e.data]
    assert len(from_timers) == len(set(from_timers)) == sum(1 for x in timers if x.fired_at)
    levels = sorted((e.data["clock"], e.data["level"]) for e in history
                    if e.event == "escalation")
    # Nobody acts: dispatch and respond (15 min), onsite (1 h) and plan (2 h) all climb, L2 at
    # the breach, L3 two hours later.
    assert levels == [("dispatch", 2), ("dispatch", 3), ("onsite", 2), ("onsite", 3),
                      ("plan", 2), ("respond", 2), ("respond", 3)]
    # Each row says when it was due and when the loop saw it (the clock jumped: late here).
    assert {(datetime.fromisoformat(e.data["due_at"]) - T0, e.at - T0) for e in history
            if e.event == "escalation"} == {(15 * M, 20 * M), (2 * H + 15 * M, 3 * H),
                                            (H, 3 * H), (2 * H, 3 * H), (3 * H, 3 * H)}


def test_two_passes_racing_for_one_timer_fire_it_once(db_url):
    register(db_url)
    with connect(db_url, autocommit=True) as c:
        create_manual_ticket(conn=c, robot="R-O1", channel="chat", reporter="Zhao",
                             description="noise", impact="minor", request=None,
                             actor="cs:agent-7", now=T0, policy=POLICY)
    first_due = T0 + 12 * M  # the dispatch warning, alone
    with connect(db_url) as a, connect(db_url, autocommit=True) as b:
        with a.transaction():
            held = fire_due(conn=a, now=first_due, policy=POLICY)
            # A holds the timer (and its ticket) until it commits: B skips it.
            assert fire_due(conn=b, now=first_due, policy=POLICY) == []
        assert [f.action for f in held] == ["warn"]
        assert fire_due(conn=b, now=first_due, policy=POLICY) == []  # fired: not again

    # Threads at the same instant, many times: each due timer fires exactly once.
    results: list[int] = []
    barrier = threading.Barrier(2)

    def racer() -> None:
        with connect(db_url, autocommit=True) as c:
            barrier.wait()
            results.append(len(fire_due(conn=c, now=T0 + 100 * H, policy=POLICY)))

    threads = [threading.Thread(target=racer) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with connect(db_url, autocommit=True) as c:
        fired = [x for x in tstore.timers_of(conn=c, ticket_id=1) if x.fired_at]
        events = [e for e in store.events_since(conn=c, after_id=0) if e.actor == SYSTEM]
    assert sum(results) + 1 == len(fired) == len(events)


def test_a_timer_that_cannot_fire_is_logged_postponed_and_costs_the_others_nothing(conn, caplog):
    good = create_manual_ticket(conn=conn, robot="R-O1", channel="phone", reporter="A",
                                description="x", impact="minor", request=None, actor="cs",
                                now=T0, policy=POLICY)
    bad = create_manual_ticket(conn=conn, robot="R-I1", channel="phone", reporter="B",
                               description="y", impact="minor", request=None, actor="cs",
                               now=T0, policy=POLICY)
    # A real database error for one ticket's history only (think: a broken row).
    conn.execute(f"""
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.ticket_id = {bad.id} AND NEW.actor = 'system' THEN
                RAISE EXCEPTION 'poisoned history';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON ticket_events
            FOR EACH ROW EXECUTE FUNCTION refuse_poison();""")
    caplog.set_level("ERROR", logger="ticketing.timers")
    fired = fire_due(conn=conn, now=T0 + 12 * M, policy=POLICY)  # both dispatch warnings due
    assert [(f.ticket_id, f.action) for f in fired] == [(good.id, "warn")]
    failed = [r.getMessage() for r in caplog.records]
    assert len(failed) == 1 and "poisoned history" in failed[0] and "retried in" in failed[0]
    stuck = [x for x in tstore.unfired_timers(conn=conn, ticket_id=bad.id) if x.attempts]
    assert [(x.action, x.due_at, x.attempts) for x in stuck] == [("warn", T0 + 13 * M, 1)]
    assert [e.event for e in store.ticket_events(conn=conn, ticket_id=bad.id)] == ["created"]
