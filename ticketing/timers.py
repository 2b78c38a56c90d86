"""Timers that act: warnings before a deadline, breaches, re-dispatch of an unconfirmed
ticket, and the escalation ladder, fired from the database (``storage.timers``).

``fire_due`` is one pass: in one transaction it locks the due timers and their tickets
(``FOR UPDATE SKIP LOCKED``, so a second ticketing process takes other ones or none), writes
one history row per timer (actor ``system``) and sets ``fired_at`` with it. A restart loses no
deadline (they are rows) and fires none twice (``fired_at`` commits with its event). Each timer
fires in a savepoint: one that fails is logged, postponed and retried, and costs the others
nothing.

``run_timers`` is the loop the ticketing service runs: a pass (the ticket timers, then the
shift handovers of ``ticketing.duty`` and the reassignments they make due, of
``ticketing.handover``), then sleep until the next due timer or shift change
(or until woken: a ticket changed), in a worker thread.

History rows written here, for the notification outbox (``storage.tickets.events_since``):
``clock_warning`` (``data.clock``; a warning of clock ``update`` is the progress-update
reminder), ``clock_breached``, ``escalation`` (``data.level``, ``to``, ``role``), and the
lifecycle's ``reassign`` with ``data.lapsed = true``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from storage import tickets as store
from storage import timers as tstore
from storage.connect import DatabaseError, Reconnecting, first_line, log_retry, usable
from storage.duty import next_handover_due
from ticketing import deadlines, events
from ticketing.dispatch import next_assignee
from ticketing.duty import fire_handovers
from ticketing.errors import TicketingError
from ticketing.handover import next_reassignment_due, reassign_handed_over
from ticketing.policy import Policy, format_duration

__all__ = ["FiredTimer", "fire_due", "run_timers", "wait_either", "TIMER_EVENTS", "WARNING",
           "BREACH", "ESCALATION", "ExtraPass"]

log = logging.getLogger(__name__)

WARNING, BREACH, ESCALATION = "clock_warning", "clock_breached", "escalation"
TIMER_EVENTS = (WARNING, BREACH, ESCALATION, "reassign")
# A timer whose firing failed (a bug, a broken row) is retried this much later, so it neither
# spins the loop nor blocks the timers due after it.
RETRY_AFTER = timedelta(minutes=1)
# Another owner's timers in the same rows, fired by the same loop after the tickets' (feedback
# records: ticketing.feedback.timers.feedback_pass); returns how many fired.
ExtraPass = Callable[[store.Conn, datetime, Policy], int]
# The loop sleeps at most this long without a pass: bounds the delay of a timer created by a
# writer whose change notification was lost.
IDLE_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FiredTimer:
    timer_id: int
    ticket_id: int
    ticket: str
    clock: str
    action: str
    step: int
    due_at: datetime
    event: str           # the history row it wrote
    detail: str = ""


def _fire_one(
    conn: store.Conn, d: tstore.DueTimer, *, now: datetime, policy: Policy
) -> FiredTimer:
    t = store.get_ticket(conn=conn, ticket_id=d.ticket_id)
    run = tstore.get_clock(conn=conn, clock_id=d.clock_id)
    if t is None or run is None:
        raise LookupError(f"timer {d.id} points at a missing ticket or clock")
    base = {"clock": d.clock, "due_at": d.due_at.isoformat(), "timer_id": d.id,
            "clock_id": run.id, "allowed": format_duration(run.allowed)}
    fired = FiredTimer(timer_id=d.id, ticket_id=t.id, ticket=t.number, clock=d.clock,
                       action=d.action, step=d.step, due_at=d.due_at, event=WARNING)
    if d.action == "warn":
        tstore.mark_warned(conn=conn, clock_id=run.id, at=now)
        store.add_event(conn=conn, ticket_id=t.id, at=now, event=WARNING, actor=events.SYSTEM,
                        state=t.state, data={**base, "share": policy.timers.warn_share})
        return fired
    if d.action == "escalate":
        level = max(t.escalation, d.step)
        store.transition(conn=conn, ticket_id=t.id, from_state=t.state, to_state=t.state,
                         event=ESCALATION, actor=events.SYSTEM, at=now,
                         data={**base, "level": d.step, **d.detail},
                         changes={"escalation": level})
        return _with(fired, event=ESCALATION, detail=f"level {d.step}: {d.detail.get('to')}")
    # breach, or reassign (the confirm clock's breach)
    tstore.mark_breached(conn=conn, clock_id=run.id, at=d.due_at)
    store.add_event(conn=conn, ticket_id=t.id, at=now, event=BREACH, actor=events.SYSTEM,
                    state=t.state, data=base)
    if d.action != "reassign" or run.closed_at is not None or t.state != "dispatched":
        return _with(fired, event=BREACH)
    lapsed = t.assignee
    chosen = next_assignee(conn=conn, ticket=t, policy=policy, at=now,
                           exclude=[lapsed] if lapsed else [])
    if chosen is None:
        # Nobody else can take it: the ladder climbs from the breach instead.
        deadlines.start_ladder(conn=conn, ticket=t, policy=policy, clock_id=run.id,
                               breach_at=d.due_at)
        return _with(fired, event=BREACH, detail="nobody left to reassign to: escalating")
    events.apply(conn=conn, ticket_id=t.id, event="reassign", actor=events.SYSTEM,
                 expected_version=None, now=now, policy=policy, assignee=chosen.code,
                 reason=f"{lapsed} did not confirm within {format_duration(run.allowed)}",
                 lapsed=True, timer_id=d.id)
    return _with(fired, event="reassign", detail=f"{lapsed} -> {chosen.code}")


def _with(f: FiredTimer, *, event: str, detail: str = "") -> FiredTimer:
    return FiredTimer(timer_id=f.timer_id, ticket_id=f.ticket_id, ticket=f.ticket, clock=f.clock,
                      action=f.action, step=f.step, due_at=f.due_at, event=event, detail=detail)


# Actions fired in one batch, a few statements for the whole set: those that only record (a
# stamp on the clock and a history row) and the ladder's steps (a history row and the
# ticket's escalation level). A re-dispatch chooses a person and starts a clock: one by one.
_BATCHED = frozenset({"warn", "breach", "escalate"})
_EVENT_OF = {"warn": WARNING, "breach": BREACH, "escalate": ESCALATION}


def _firing(d: tstore.DueTimer, policy: Policy) -> tstore.Firing:
    data: dict[str, object] = {"clock": d.clock, "due_at": d.due_at.isoformat(),
                               "timer_id": d.id, "clock_id": d.clock_id,
                               "allowed": format_duration(d.allowed)}
    if d.action == "warn":
        data["share"] = policy.timers.warn_share
    elif d.action == "escalate":
        data = {**data, "level": d.step, **d.detail}
    return tstore.Firing(timer_id=d.id, clock_id=d.clock_id, ticket_id=d.ticket_id,
                         action=d.action, due_at=d.due_at, event=_EVENT_OF[d.action],
                         state=d.ticket_state, data=data, level=d.step)


def _fired(d: tstore.DueTimer) -> FiredTimer:
    detail = f"level {d.step}: {d.detail.get('to')}" if d.action == "escalate" else ""
    return FiredTimer(timer_id=d.id, ticket_id=d.ticket_id, ticket=d.ticket_number,
                      clock=d.clock, action=d.action, step=d.step, due_at=d.due_at,
                      event=_EVENT_OF[d.action], detail=detail)


def _fire_batch(
    conn: store.Conn, due: list[tstore.DueTimer], *, now: datetime, policy: Policy
) -> list[tstore.DueTimer]:
    """Fire together the due timers of every ticket with no re-dispatch due; those left to
    fire one by one (all of them, if the batch failed), in their due order."""
    acting = {d.ticket_id for d in due if d.action not in _BATCHED}
    batch = [d for d in due if d.ticket_id not in acting]
    if not batch:
        return due
    try:
        tstore.fire_batch(conn=conn, at=now, actor=events.SYSTEM,
                          firings=[_firing(d, policy) for d in batch])
    except (LookupError, DatabaseError) as exc:
        if not usable(conn):
            raise
        log.warning("batch of %d timers failed (%s); firing them one by one", len(batch),
                    first_line(exc))
        return due
    return [d for d in due if d.ticket_id in acting]


def fire_due(
    *, conn: store.Conn, now: datetime, policy: Policy, limit: int = 500
) -> list[FiredTimer]:
    """Fire up to ``limit`` timers due at ``now``, earliest first, in one transaction; what
    fired. Timers another process holds are skipped (it fires them).

    The timers of tickets with no re-dispatch due (warnings, plain breaches, escalations)
    fire in one batch: a few statements for the set, not a few per timer. The tickets with
    a lapsed confirmation fire one by one in due order, each timer in a savepoint."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    fired: list[FiredTimer] = []
    with store.atomic(conn=conn):
        due = tstore.claim_due(conn=conn, now=now, limit=limit)
        one_by_one = _fire_batch(conn, due, now=now, policy=policy)
        left = {d.id for d in one_by_one}
        fired += [_fired(d) for d in due if d.id not in left]
        for d in one_by_one:
            try:
                with store.atomic(conn=conn):  # a savepoint: a failure undoes only this timer
                    # Marked first: the action may close the clock, which drops its unfired
                    # timers.
                    if not tstore.mark_fired(conn=conn, timer_id=d.id, at=now):
                        raise LookupError(f"timer {d.id} fired meanwhile")
                    one = _fire_one(conn, d, now=now, policy=policy)
            except (TicketingError, LookupError, ValueError, DatabaseError) as exc:
                if not usable(conn):
                    raise
                log.error("timer %s (%s %s of ticket %s, due %s) failed, retried in %s: %s",
                          d.id, d.clock, d.action, d.ticket_id, d.due_at.isoformat(),
                          RETRY_AFTER, first_line(exc))
                tstore.postpone(conn=conn, timer_id=d.id, until=now + RETRY_AFTER)
                continue
            fired.append(one)
    return fired


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Pass:
    """The loop's database side; runs in one worker thread at a time, owns its connection."""

    conninfo: str
    policy: Policy
    clock: Callable[[], datetime]
    limit: int
    also: Sequence[ExtraPass] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)
    db: Reconnecting = field(init=False)

    def __post_init__(self) -> None:
        self.db = Reconnecting(self.conninfo)

    def __call__(self) -> tuple[int, datetime | None]:
        with self.lock:
            conn = self.db.get()
            now = self.clock()
            fired = fire_due(conn=conn, now=now, policy=self.policy, limit=self.limit)
            for f in fired:
                log.info("ticket %s: %s %s (%s) %s", f.ticket, f.clock, f.action, f.event,
                         f.detail)
            # Shift handovers are timers of the same pass (ticketing.duty).
            for h in fire_handovers(conn=conn, now=now):
                log.info("team %s: shift change at %s %s%s", h.team, h.at.isoformat(),
                         "superseded by a later one" if h.superseded else "handed over",
                         f" {len(h.tickets)} open tickets" if h.tickets else "")
            for r in reassign_handed_over(conn=conn, now=now, policy=self.policy):
                log.info("handover %s (team %s): %s reassigned%s", r.handover_id, r.team,
                         ", ".join(f"{n} {a} -> {b}" for n, a, b in r.moved) or "nothing",
                         f", {len(r.kept)} kept" if r.kept else "")
            count = len(fired)
            for extra in self.also:
                count += extra(conn, self.clock(), self.policy)
            due = [d for d in (tstore.next_due(conn=conn), next_handover_due(conn=conn),
                               next_reassignment_due(conn=conn, policy=self.policy))
                   if d is not None]
            return count, min(due, default=None)

    def close(self) -> None:
        with self.lock:
            self.db.close()


async def wait_either(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` or ``wake`` is set meanwhile."""
    if seconds <= 0:
        return
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def run_timers(
    *,
    conninfo: str,
    policy: Policy,
    stop: asyncio.Event,
    wake: asyncio.Event | None = None,
    clock: Callable[[], datetime] = _utcnow,
    limit: int = 500,
    also: Sequence[ExtraPass] = (),
) -> None:
    """Fire timers until ``stop`` is set, waking at the next due time or when ``wake`` is set;
    each pass then runs ``also`` (the other owners' timers).
    A lost database is retried with capped, jittered exponential backoff; it never ends the
    loop."""
    wake = wake or asyncio.Event()
    one_pass = _Pass(conninfo=conninfo, policy=policy, clock=clock, limit=limit, also=also)
    never = asyncio.Event()

    async def backoff(seconds: float) -> None:
        await asyncio.to_thread(one_pass.close)
        await wait_either(stop, never, seconds)  # a stop ends the wait, and the retries

    try:
        while not stop.is_set():
            wake.clear()
            try:
                async for attempt in AsyncRetrying(
                        retry=retry_if_exception_type(DatabaseError),
                        wait=wait_exponential_jitter(multiplier=0.5, jitter=0.5, max=30.0),
                        stop=lambda _: stop.is_set(), sleep=backoff, reraise=True,
                        before_sleep=log_retry(log, "timer pass failed", level=logging.ERROR)):
                    with attempt:
                        fired, next_at = await asyncio.to_thread(one_pass)
            except DatabaseError:
                if stop.is_set():
                    break
                raise
            if fired >= limit:
                continue  # more are due right now
            delay = IDLE_S
            if next_at is not None:
                delay = min(IDLE_S, max(0.0, (next_at - clock()).total_seconds()))
            await wait_either(stop, wake, delay)
    finally:
        await asyncio.to_thread(one_pass.close)
