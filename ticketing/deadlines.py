"""The clock book: keeps a ticket's clocks and timers (``storage.timers``) in step with its
events, inside the event's transaction.

Which event does what to which clock (service rules sections 3-4):

==================  =====================================================================
created             starts dispatch (longer when nobody is on duty in the robot's city,
                    if the policy says so), and the grade's respond, onsite, plan, resolve, update
dispatch            meets dispatch; starts confirm (the assignee's 30 min)
reassign            closes confirm; starts a new confirm for the new assignee
refuse              closes confirm; starts dispatch again (re-dispatch)
accept              meets confirm and respond (the handler is named)
send_update         meets respond; meets the running update and starts the next one;
                    after resolving, meets the completion update
start_remote/arrive meets onsite
submit_plan         meets plan
wait_customer       pauses every running clock (and its timers)
resume              resumes them with the time they had left
resolve             meets resolve; closes update, onsite, plan; a grade without cadence
                    starts the completion update
dispute, reopen     resolve runs again with what it had left; the update cadence restarts
sign_off            closes whatever still runs
cancel, merge       closes everything, drops every pending timer
regrade             replaces the grade's clocks not yet met with the new grade's, counted
                    from acceptance; clocks the new grade lacks are closed
extend_resolve      replaces resolve with the extended one (grade IV: 8 h)
==================  =====================================================================

Each function returns the ticket columns that show the changed deadlines (``respond_by``...),
for the caller to write with the event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from storage import tickets as store
from storage import timers as tstore
from ticketing import clocks
from ticketing.calendar import Calendar, calendar_for
from ticketing.duty import has_local_candidate
from ticketing.policy import Policy

__all__ = ["start_ticket", "on_event", "calendars_of", "start_ladder", "new_timers",
           "start_after_completion", "meet_clock"]

_ZERO = timedelta(0)
# Events after which nothing about the clocks changes.
_NO_CLOCK_EFFECT = frozenset({"start_travel", "archive"})


def calendars_of(*, policy: Policy, tz: str) -> Callable[[str], Calendar]:
    def pick(kind: str) -> Calendar:
        return calendar_for(kind=kind, timers=policy.timers, tz=tz)
    return pick


def new_timers(plan: clocks.Plan) -> list[tstore.NewTimer]:
    return [tstore.NewTimer(action=t.action, due_at=t.due_at, calendar=t.calendar, step=t.step,
                            detail={"to": t.to, "role": t.role} if t.to else {})
            for t in plan.timers]


class _Book:
    """One ticket's clocks during one event."""

    def __init__(self, conn: store.Conn, ticket: store.TicketRow, policy: Policy,
                 at: datetime) -> None:
        self.conn, self.ticket, self.policy, self.at = conn, ticket, policy, at
        self.cal = calendars_of(policy=policy, tz=ticket.timezone)
        self.columns: dict[str, Any] = {}
        self._open = {c.clock: c for c in tstore.open_clocks(conn=conn, ticket_id=ticket.id)}
        # Clocks started while the ticket waits for the customer start paused.
        self.waiting = ticket.state == "waiting_customer"

    def _planned(self, spec: clocks.ClockSpec, *, spent: timedelta = _ZERO,
                 started_at: datetime | None = None,
                 previous: tstore.ClockRun | None = None) -> tstore.NewClock:
        plan = clocks.plan_clock(spec, now=self.at, spent=spent, policy=self.policy,
                                 calendars=self.cal)
        timers = new_timers(plan)
        if previous is not None:
            done = {(t.action, t.step) for t in tstore.timers_of(conn=self.conn,
                                                                 ticket_id=self.ticket.id)
                    if t.clock_id == previous.id and t.fired_at is not None}
            timers = [t for t in timers if t.due_at > self.at or (t.action, t.step) not in done]
        return tstore.NewClock(clock=spec.name, calendar=spec.calendar,
                               started_at=started_at or self.at, allowed=spec.allowed,
                               due_at=plan.due_at, timers=tuple(timers))

    def _opened(self, run: tstore.ClockRun) -> None:
        self._open[run.clock] = run
        if run.clock in clocks.DEADLINE_COLUMNS:
            self.columns[clocks.DEADLINE_COLUMNS[run.clock]] = run.due_at
        if self.waiting:
            self._pause_clock(run)

    def start(self, spec: clocks.ClockSpec, *, spent: timedelta = _ZERO,
              started_at: datetime | None = None,
              previous: tstore.ClockRun | None = None) -> None:
        """Start a run of ``spec`` that has used ``spent``. A run that continues ``previous``
        (a regrade, an extension, a dispute) does not fire again what ``previous`` already
        fired and is still past: one breach of a clock is one breach."""
        self.start_all([self._planned(spec, spent=spent, started_at=started_at,
                                      previous=previous)])

    def start_all(self, runs: list[tstore.NewClock]) -> None:
        """Start fresh runs of different clocks together (one statement)."""
        for run in tstore.begin_clocks(conn=self.conn, ticket_id=self.ticket.id, runs=runs):
            self._opened(run)

    def spent(self, run: tstore.ClockRun) -> timedelta:
        left = clocks.left_at(self.cal(run.calendar), now=self.at,
                              due_at=run.due_at, paused_left=run.paused_left)
        return run.allowed - left

    def meet(self, name: str) -> None:
        run = self._open.pop(name, None)
        if run is not None:
            # Timers already due fire anyway: they happened before the milestone.
            tstore.close_clock(conn=self.conn, clock_id=run.id, at=self.at, why="met",
                               drop_due_timers=False)

    def close(self, name: str, why: str) -> None:
        run = self._open.pop(name, None)
        if run is not None:
            tstore.close_clock(conn=self.conn, clock_id=run.id, at=self.at, why=why)

    def replace(self, spec: clocks.ClockSpec) -> None:
        """The same clock, same start, new allowed time; its timers are planned again."""
        run = self._open.get(spec.name)
        if run is None:
            return
        spent = self.spent(run)
        self.close(spec.name, "replaced")
        self.start(spec, spent=spent, started_at=run.started_at, previous=run)

    def _pause_clock(self, run: tstore.ClockRun | None) -> None:
        if run is None or run.due_at is None:
            return
        left = clocks.paused(self.cal(run.calendar), at=self.at,
                             due_at=run.due_at)
        if left is not None:
            tstore.set_clock_due(conn=self.conn, clock_id=run.id, due_at=None, paused_left=left)
        moves = []
        for t in tstore.unfired_timers(conn=self.conn, ticket_id=self.ticket.id):
            if t.clock_id == run.id and t.due_at is not None:
                t_left = clocks.paused(self.cal(t.calendar), at=self.at,
                                       due_at=t.due_at)
                if t_left is not None:
                    moves.append((t.id, None, t_left))
        tstore.set_timer_due(conn=self.conn, moves=moves)

    def pause_all(self) -> None:
        for run in list(self._open.values()):
            self._pause_clock(run)

    def resume_all(self) -> None:
        for run in self._open.values():
            if run.paused_left is not None:
                due = clocks.resumed(self.cal(run.calendar), at=self.at,
                                     left=run.paused_left)
                tstore.set_clock_due(conn=self.conn, clock_id=run.id, due_at=due,
                                     paused_left=None)
                if run.clock in clocks.DEADLINE_COLUMNS:
                    self.columns[clocks.DEADLINE_COLUMNS[run.clock]] = due
        moves = [(t.id, clocks.resumed(self.cal(t.calendar), at=self.at,
                                       left=t.paused_left), None)
                 for t in tstore.unfired_timers(conn=self.conn, ticket_id=self.ticket.id)
                 if t.paused_left is not None]
        tstore.set_timer_due(conn=self.conn, moves=moves)

    def close_all(self, why: str) -> None:
        for name in list(self._open):
            self.close(name, why)


def _dispatch_clock(
    conn: store.Conn, ticket: store.TicketRow, policy: Policy, at: datetime
) -> clocks.ClockSpec:
    """The dispatch clock; with the policy's outside-city rule, the longer one when nobody
    the ticket goes to is on duty in the robot's city at ``at``."""
    outside = (policy.process.dispatch_outside_city is not None
               and not has_local_candidate(conn=conn, ticket=ticket, policy=policy, at=at))
    return clocks.process_clock(policy=policy, name="dispatch", outside_city=outside)


def start_ticket(
    *, conn: store.Conn, ticket: store.TicketRow, policy: Policy, at: datetime
) -> dict[str, Any]:
    """Start the clocks of a ticket accepted into the system at ``at``."""
    book = _Book(conn, ticket, policy, at)
    specs = [_dispatch_clock(conn, ticket, policy, at),
             *clocks.sla_clocks(policy=policy, grade=ticket.grade, tier=ticket.tier).values()]
    book.start_all([book._planned(spec) for spec in specs])
    return book.columns


def start_ladder(
    *, conn: store.Conn, ticket: store.TicketRow, policy: Policy, clock_id: int,
    breach_at: datetime,
) -> None:
    """Climb the escalation ladder from a breach whose own action could not help (a lapsed
    confirmation nobody else can take)."""
    if not policy.escalation.steps:
        return
    planned = clocks.ladder(policy.escalation.steps, breach_at=breach_at,
                            calendars=calendars_of(policy=policy, tz=ticket.timezone))
    tstore.add_timers(conn=conn, ticket_id=ticket.id, clock_id=clock_id,
                      timers=new_timers(clocks.Plan(due_at=breach_at, timers=tuple(planned))))


def _regrade(book: _Book, grade: str) -> None:
    t = book.ticket
    new = clocks.sla_clocks(policy=book.policy, grade=grade, tier=t.tier)
    resolve_run = book._open.get("resolve")
    since_acceptance = book.spent(resolve_run) if resolve_run is not None else None
    for name in clocks.SLA_CLOCKS:
        if name not in new:
            book.close(name, "moot")
        elif name in book._open:
            book.replace(new[name])
        else:
            if tstore.latest_clock(conn=book.conn, ticket_id=t.id, clock=name) is not None:
                continue  # met under the old grade: done
            if name == "update":
                book.start(new[name])  # a cadence the old grade did not owe starts now
            elif since_acceptance is not None:
                # A clock the old grade did not have counts from acceptance, like the others.
                book.start(new[name], spent=since_acceptance, started_at=t.created_at)
    for name in ("onsite", "plan"):
        if name not in new:
            book.columns[clocks.DEADLINE_COLUMNS[name]] = None


def _run_again(book: _Book) -> None:
    """Dispute or reopen: the resolve clock goes on from what it had left when resolved."""
    book.close("final_update", "moot")
    last = tstore.latest_clock(conn=book.conn, ticket_id=book.ticket.id, clock="resolve")
    specs = clocks.sla_clocks(policy=book.policy, grade=book.ticket.grade, tier=book.ticket.tier)
    if last is not None and last.met_at is not None:
        cal = book.cal(last.calendar)
        left = (cal.elapsed(last.met_at, last.due_at) if last.due_at is not None
                else last.paused_left or _ZERO)
        spec = clocks.ClockSpec(name="resolve", allowed=last.allowed,
                                calendar=specs["resolve"].calendar,
                                escalates=specs["resolve"].escalates)
        book.start(spec, spent=last.allowed - left, started_at=last.started_at,
                   previous=last)
    if "update" in specs and "update" not in book._open:
        book.start(specs["update"])


def on_event(
    *, conn: store.Conn, ticket: store.TicketRow, event: str, policy: Policy, at: datetime,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Apply ``event``'s effect on the clocks of ``ticket`` (as it was before the event)."""
    if event in _NO_CLOCK_EFFECT:
        return {}
    book = _Book(conn, ticket, policy, at)
    if event == "dispatch":
        book.meet("dispatch")
        book.start(clocks.process_clock(policy=policy, name="confirm"))
    elif event == "reassign":
        book.close("confirm", "reassigned")
        book.start(clocks.process_clock(policy=policy, name="confirm"))
    elif event == "refuse":
        book.close("confirm", "refused")
        book.start(_dispatch_clock(conn, ticket, policy, at))
    elif event == "accept":
        book.meet("confirm")
        book.meet("respond")
    elif event == "send_update":
        book.meet("respond")
        if ticket.state == "resolved":
            book.meet("final_update")
        elif "update" in book._open:
            book.meet("update")
            specs = clocks.sla_clocks(policy=policy, grade=ticket.grade, tier=ticket.tier)
            if "update" in specs:
                book.start(specs["update"])
    elif event in ("start_remote", "arrive"):
        book.meet("onsite")
    elif event == "submit_plan":
        book.meet("plan")
    elif event == "wait_customer":
        book.pause_all()
    elif event == "resume":
        book.resume_all()
    elif event == "resolve":
        book.meet("resolve")
        for name in ("update", "onsite", "plan"):
            book.close(name, "moot")
        if ticket.update_every is None:
            book.start(clocks.final_update_clock(policy=policy))
    elif event in ("dispute", "reopen"):
        _run_again(book)
    elif event == "sign_off":
        book.meet("final_update")
        book.close_all("moot")
    elif event in ("cancel", "merge"):
        book.close_all("cancelled")
    elif event == "regrade":
        if ticket.state != "resolved":
            _regrade(book, str(details["grade"]))
    elif event == "extend_resolve":
        book.replace(clocks.extended_resolve(policy=policy, grade=ticket.grade, tier=ticket.tier,
                                             reason=details.get("reason")))
    return book.columns


def start_after_completion(
    *, conn: store.Conn, ticket: store.TicketRow, policy: Policy, spec: clocks.ClockSpec,
    at: datetime,
) -> datetime:
    """Start a clock a completed ticket still owes (after sales: the callback survey, the
    root-cause report), with its warning and breach timers; its deadline."""
    book = _Book(conn, ticket, policy, at)
    book.start(spec)
    due = book._open[spec.name].due_at
    assert due is not None  # a completed ticket waits for nobody: its clocks do not pause
    return due


def meet_clock(
    *, conn: store.Conn, ticket: store.TicketRow, policy: Policy, name: str, at: datetime
) -> None:
    """Meet a clock outside the lifecycle's events (a callback recorded, a report submitted)."""
    _Book(conn, ticket, policy, at).meet(name)
