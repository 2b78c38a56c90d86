"""The demo's sample history: three weeks of after-sales work before today, written once into a
fresh data directory so the weekly, monthly and quarterly reports have something to show.

Nothing here is typed into a report: each ticket is opened, dispatched, worked, resolved,
signed off and archived through the real ``ticketing.events.apply`` with a clock this module
moves forward; callbacks go through ``ticketing.feedback.callbacks``, the complaint through
``ticketing.feedback.records``, parts through ``parts.requisitions``. The figures are whatever
the report computes from those events. Every record says it is sample data (the reporter
``sample history (demo)``, descriptions starting ``[sample]``, actors ``sample:...``), so
nobody mistakes it for the live story the simulator tells afterwards.

It runs only when the database holds no ticket yet: a second demo start, or a data directory
with real work in it, is left alone.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from parts import requisitions
from parts.policy import PartsPolicy
from storage.connect import Conn
from storage.feedback import get_feedback
from storage.fleet import FleetSpec
from storage.tickets import TicketRow, get_ticket, list_tickets
from ticketing.events import apply, create_manual_ticket
from ticketing.feedback import callbacks
from ticketing.feedback import records as feedback
from ticketing.policy import Policy

__all__ = ["SampleSummary", "seed_sample_history", "WEEKS"]

log = logging.getLogger(__name__)

# Three whole weeks: last week's report has a week before it to compare with, and the month's
# report spans more than one week.
WEEKS = 3
REPORTER = "sample history (demo)"
CS, KEEPER = "sample:cs-agent", "sample:parts-keeper"
M, H = timedelta(minutes=1), timedelta(hours=1)
# A fixed seed: every fresh demo gets the same history (relative to its own today).
SEED = 20261123


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleSummary:
    tickets: int
    callbacks: int
    complaints: int
    requisitions: int
    first_day: datetime
    last_day: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class _Case:
    impact: str
    kind: str                # the fault kind: repeats and common problems are judged by it
    onsite: bool
    accept: timedelta        # from intake
    resolve: timedelta       # from intake
    disputed: bool           # the first fix did not hold (first-time fix rate below 100 %)
    score: int | None        # the callback survey's answer; None: never answered
    grease: bool             # a parts requisition for the repair


class _Story:
    def __init__(self, conn: Conn, policy: Policy, parts_policy: PartsPolicy,
                 manager: str, engineers: list[str]) -> None:
        self.conn, self.policy, self.parts_policy = conn, policy, parts_policy
        self.manager, self.engineers = manager, engineers
        self.counts = {"tickets": 0, "callbacks": 0, "complaints": 0, "requisitions": 0}

    def act(self, t: TicketRow, event: str, at: datetime, actor: str,
            **details: Any) -> TicketRow:
        seen = get_ticket(conn=self.conn, ticket_id=t.id)
        assert seen is not None  # opened by this story
        return apply(conn=self.conn, ticket_id=t.id, event=event, actor=actor,
                     expected_version=seen.version, now=at, policy=self.policy, **details)

    def ticket(self, robot: str, t0: datetime, case: _Case, n: int) -> None:
        t = create_manual_ticket(
            conn=self.conn, robot=robot, channel="phone", reporter=REPORTER,
            description=f"[sample] {case.impact} fault reported by the line lead",
            impact=case.impact, request="[sample] restore normal operation", actor=CS,
            now=t0, policy=self.policy, kind=case.kind)
        self.counts["tickets"] += 1
        # Grades I/II go to the O&M manager, who forms the team (service rules section 3).
        who = self.manager if t.grade in ("I", "II") else self.engineers[n % len(self.engineers)]
        actor = f"sample:{who}"
        t = self.act(t, "dispatch", t0 + 5 * M, CS, assignee=who)
        t = self.act(t, "accept", t0 + case.accept, actor)
        if case.onsite:
            t = self.act(t, "start_travel", t0 + case.accept + 5 * M, actor)
            t = self.act(t, "arrive", t0 + case.accept + 50 * M, actor)
        else:
            t = self.act(t, "start_remote", t0 + case.accept + 2 * M, actor)
        if case.grease:
            self.grease(t, t0 + case.accept + 55 * M)
        report = {"process": "on site" if case.onsite else "remote session",
                  "cause": "[sample] worn cable at the wrist", "solution": "replaced and tested",
                  "parts_used": ["GREASE-400"] if case.grease else ["none"],
                  "before_after": "alarm every few minutes -> none in 24 h"}
        done = t0 + case.resolve
        if case.disputed:
            t = self.act(t, "resolve", done - 4 * H, actor, report=report)
            t = self.act(t, "dispute", done - 3 * H, CS, reason="[sample] the alarm came back")
        t = self.act(t, "resolve", done, actor, report=report)
        t = self.act(t, "sign_off", done + 2 * H, CS)
        t = self.act(t, "archive", done + 3 * H, CS)
        if case.score is not None:
            callbacks.record(conn=self.conn, ticket_id=t.id, score=case.score,
                             suggestions="[sample] call before arriving" if case.score < 4
                             else None, actor=CS, now=done + 20 * H, policy=self.policy)
            self.counts["callbacks"] += 1

    def grease(self, t: TicketRow, at: datetime) -> None:
        req = requisitions.request(
            conn=self.conn, part="GREASE-400", warehouse="SUZHOU", quantity=1,
            purpose="[sample] re-grease the wrist gear", actor=CS, at=at,
            policy=self.parts_policy, ticket_id=t.id)
        for event in ("approve", "issue"):
            requisitions.act(conn=self.conn, requisition_id=req.id, event=event, actor=KEEPER,
                             at=at + 5 * M)
        self.counts["requisitions"] += 1

    def complaint(self, customer: str, t0: datetime) -> None:
        """A complaint answered in time: responded, routed, confirmed, completed, told."""
        rec = feedback.register(
            conn=self.conn, kind="complaint", customer=customer, category="service_process",
            urgency="general", channel="phone", reporter=REPORTER,
            summary="[sample] the engineer arrived later than agreed", received_at=t0,
            now=t0 + 5 * M, actor=CS, policy=self.policy)
        steps: list[tuple[str, timedelta, dict[str, Any]]] = [
            ("respond", 10 * M, {"message": "[sample] sorry; we are looking into it"}),
            ("route", 30 * M, {}),
            ("confirm", 2 * H, {}),
            ("complete", 26 * H, {"result": "[sample] dispatch now confirms arrival times"}),
            ("tell_result", 28 * H, {"message": "[sample] told by phone"}),
        ]
        for event, after, details in steps:
            seen = get_feedback(conn=self.conn, feedback_id=rec.id)
            assert seen is not None
            feedback.apply(conn=self.conn, feedback_id=rec.id, event=event, actor=CS,
                           expected_version=seen.version, now=t0 + after, policy=self.policy,
                           **details)
        self.counts["complaints"] += 1


# Fault kinds of the reported tickets. Robot i of the fleet gets case i of every week, and
# KINDS[(i + 2 * week) % 7] gives it a different kind each week: no accidental repeats (the
# one intended repeat is made in _cases).
KINDS = ("cable_wear", "gearbox_noise", "encoder_fault", "collision", "motor_overtemperature",
         "following_error_high", "lubrication_low")


def _cases(rng: random.Random, week: int) -> list[_Case]:
    """One week's tickets: mostly minor and non-core faults, a core-module fault, and in
    every week one stoppage; most fixed first time, most callbacks satisfied. In the last
    week the first robot's fault of the week before comes back (one repeat)."""
    out = []
    for i, impact in enumerate(("minor", "non-core", "minor", "core-module", "non-core",
                                "stoppage")):
        kind = KINDS[(i + 2 * week) % len(KINDS)]
        if week == WEEKS - 1 and i == 0:
            kind = KINDS[2 * (week - 1) % len(KINDS)]
        out.append(_Case(
            impact=impact, kind=kind,
            onsite=impact in ("stoppage", "core-module") or rng.random() < 0.3,
            accept=rng.choice([8, 12, 18, 25, 40]) * M,
            resolve=timedelta(hours=rng.choice([2, 3, 5, 7, 10, 20])),
            disputed=rng.random() < 0.15, score=rng.choice([5, 5, 4, 4, 4, 3, None]),
            grease=rng.random() < 0.3))
    return out


def seed_sample_history(
    *, conn: Conn, fleet: FleetSpec, policy: Policy, parts_policy: PartsPolicy, now: datetime,
) -> SampleSummary | None:
    """Write the sample history into an empty database (no ticket yet); None otherwise.
    ``conn`` is in autocommit mode: each event commits as the real services' would."""
    _, existing = list_tickets(conn=conn, limit=1)
    if existing:
        return None
    robots = [r.code for c in fleet.customers for s in c.sites for ln in s.lines
              for r in ln.robots]
    customers = [c.code for c in fleet.customers]
    managers = [e.code for e in fleet.engineers if e.role == "manager"]
    engineers = [e.code for e in fleet.engineers if e.role == "engineer"]
    if not robots or not managers or not engineers:
        log.warning("no sample history: the fleet needs robots, a manager and an engineer")
        return None
    story = _Story(conn, policy, parts_policy, managers[0], engineers)
    rng = random.Random(SEED)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=WEEKS)
    n = 0
    for week in range(WEEKS):
        start = first + timedelta(weeks=week)
        for day, case in enumerate(_cases(rng, week)):
            # Weekdays, during the working day of a site in China (01:00-07:00 UTC).
            t0 = start + timedelta(days=day % 5, hours=1 + rng.randrange(6),
                                   minutes=rng.randrange(60))
            story.ticket(robots[n % len(robots)], t0, case, n)
            n += 1
        if week == WEEKS - 1:
            story.complaint(customers[-1], start + timedelta(days=2, hours=2))
    c = story.counts
    log.info("sample history (%s to %s): %d tickets, %d callbacks, %d complaint, %d parts "
             "requisitions; every record is marked [sample]", first.date(),
             (monday - timedelta(days=1)).date(), c["tickets"], c["callbacks"],
             c["complaints"], c["requisitions"])
    return SampleSummary(tickets=c["tickets"], callbacks=c["callbacks"],
                         complaints=c["complaints"], requisitions=c["requisitions"],
                         first_day=first, last_day=monday - timedelta(days=1))
