"""A small scripted week (2026-W48, Asia/Shanghai) whose report figures are worked out by hand
in test_reports_db.py: six tickets through the real lifecycle, one the week before, and one
stoppage seen by monitoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from storage.tickets import TicketRow
from tests.ticketing.fleet import act, register
from ticketing.events import create_manual_ticket
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
M, H = timedelta(minutes=1), timedelta(hours=1)
REPORT = {"process": "remote", "cause": "loose cable", "solution": "re-crimped",
          "parts_used": ["connector"], "before_after": "alarm every 5 min -> none in 24 h"}
CS, MGR, ENG = "cs:agent-7", "mgr:M-01", "eng:E-01"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _open(conn: psycopg.Connection, robot: str, impact: str, at: datetime) -> TicketRow:
    return create_manual_ticket(conn=conn, robot=robot, channel="phone", reporter="Li Wei",
                                description="fault", impact=impact, request="fix it",
                                actor=CS, now=at, policy=POLICY)


def _work(conn: psycopg.Connection, t: int, t0: datetime, *, to: str, accept: timedelta,
          resolve: timedelta | None) -> None:
    who = MGR if to.startswith("M") else ENG
    act(conn, t, "dispatch", t0 + 5 * M, policy=POLICY, actor=CS, assignee=to)
    act(conn, t, "accept", t0 + accept, policy=POLICY, actor=who)
    if resolve is not None:
        act(conn, t, "start_remote", t0 + accept + M, policy=POLICY, actor=who)
        act(conn, t, "resolve", t0 + resolve, policy=POLICY, actor=who, report=REPORT)


def build_week(db_url: str) -> dict[str, int]:
    """Ticket ids by name (T0 ... T6)."""
    register(db_url)
    ids: dict[str, int] = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        # T0: the Sunday before (23:00 local), same robot and kind as T1: makes T1 a repeat.
        t0 = _at(22, 15)
        ids["T0"] = _open(conn, "R-C1", "minor", t0).id
        _work(conn, ids["T0"], t0, to="E-01", accept=30 * M, resolve=5 * H)
        # T1: grade II core; responded in 20 min, resolved in 10 h, signed off and archived.
        t1 = _at(23, 1)
        ids["T1"] = _open(conn, "R-C1", "core-module", t1).id
        _work(conn, ids["T1"], t1, to="M-01", accept=20 * M, resolve=10 * H)
        act(conn, ids["T1"], "sign_off", t1 + 11 * H, policy=POLICY, actor=CS)
        act(conn, ids["T1"], "archive", t1 + 12 * H, policy=POLICY, actor=CS)
        # T2: grade II important; responded in 45 min (late), resolved at 80 h, disputed,
        # resolved again at 82 h (late: 72 h), signed off.
        t2 = _at(24, 2)
        ids["T2"] = _open(conn, "R-I1", "core-module", t2).id
        _work(conn, ids["T2"], t2, to="M-01", accept=45 * M, resolve=80 * H)
        act(conn, ids["T2"], "dispute", t2 + 81 * H, policy=POLICY, actor=CS,
            reason="alarm back")
        act(conn, ids["T2"], "resolve", t2 + 82 * H, policy=POLICY, actor=MGR, report=REPORT)
        act(conn, ids["T2"], "sign_off", t2 + 83 * H, policy=POLICY, actor=CS)
        # T3: grade IV ordinary, regraded to III at 30 min; responded at 50 min, never resolved.
        t3 = _at(25, 3)
        ids["T3"] = _open(conn, "R-O1", "minor", t3).id
        act(conn, ids["T3"], "regrade", t3 + 30 * M, policy=POLICY, actor=MGR, grade="III",
            reason="line slowed down")
        _work(conn, ids["T3"], t3, to="E-01", accept=50 * M, resolve=None)
        # T4: grade I (a stoppage reported by phone); responded in 10 min, resolved in 6 h.
        t4 = _at(26, 4)
        ids["T4"] = _open(conn, "R-C1b", "stoppage", t4).id
        _work(conn, ids["T4"], t4, to="M-01", accept=10 * M, resolve=6 * H)
        # T5: grade IV, R-C1 again (a repeat of T1), never dispatched.
        t5 = _at(28, 2)
        ids["T5"] = _open(conn, "R-C1", "minor", t5).id
        # T6: the same call taken twice: merged into T5.
        ids["T6"] = _open(conn, "R-C1", "minor", t5 + 30 * M).id
        act(conn, ids["T6"], "merge", t5 + 35 * M, policy=POLICY, actor=CS, into=ids["T5"],
            reason="same call")
        # T7: the Monday after, outside the week.
        ids["T7"] = _open(conn, "R-C2", "minor", _at(29, 17)).id
        # A 2 h stoppage of R-C2 seen by monitoring, no ticket.
        conn.execute("""INSERT INTO anomalies (robot_id, component, kind, detector, impact,
                                               started_at, ended_at)
                        SELECT id, 'controller', 'stopped', 'state', 'stoppage', %s, %s
                          FROM robots WHERE code = 'R-C2'""", (_at(27, 0), _at(27, 2)))
    return ids
