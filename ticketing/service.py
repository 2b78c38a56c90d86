"""The ticketing service: every anomaly becomes (or joins) a ticket.

Two sources feed one loop: ``NOTIFY robowatch_events`` wakes it at once, and a periodic sweep
of the unticketed anomalies catches whatever was missed while the service was down or the
listener was reconnecting. Beside it runs the timer loop (``ticketing.timers.run_timers``):
warnings, breaches, re-dispatch and escalation, woken early when a ticket changes. The
database work is synchronous and runs in worker threads, one transaction per anomaly (a new
ticket is opened, graded and dispatched in it); the event loop only waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from storage import events as events_channel
from storage import tickets as store
from storage.connect import Reconnecting, first_line, usable
from ticketing.dispatch import auto_dispatch
from ticketing.feedback.timers import feedback_pass
from ticketing.intake import ticket_anomaly
from ticketing.policy import Policy
from ticketing.timers import ExtraPass, run_timers, wait_either

__all__ = ["run_ticketing", "SweepStats"]

log = logging.getLogger(__name__)

# Listener reconnect backoff: first retry soon, then doubling to a cap, with jitter so several
# services do not reconnect in step.
_RETRY_FIRST_S = 0.5
_RETRY_CAP_S = 30.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SweepStats:
    created: int = 0
    appended: int = 0
    dispatched: int = 0
    failed: int = 0


@dataclass(slots=True)
class _Worker:
    """The service's database side. Runs in one worker thread at a time; owns its connection."""

    conninfo: str
    policy: Policy
    clock: Callable[[], datetime]
    batch: int
    dispatch: bool
    halt: threading.Event = field(default_factory=threading.Event)
    failed: set[int] = field(default_factory=set)
    db: Reconnecting = field(init=False)

    def __post_init__(self) -> None:
        self.db = Reconnecting(self.conninfo)

    def _connection(self) -> store.Conn:
        return self.db.get()

    def sweep(self) -> SweepStats:
        stats = SweepStats()
        conn = self._connection()
        after = 0
        while not self.halt.is_set():
            pending = store.unticketed_anomalies(conn=conn, limit=self.batch, after_id=after)
            if not pending:
                break
            for a in pending:
                if self.halt.is_set():
                    break
                after = a.id
                if a.id not in self.failed:
                    self._one(conn, a, stats)
        if self.dispatch and not self.halt.is_set():
            self._dispatch_new(conn, stats)
        return stats

    def _dispatch_new(self, conn: store.Conn, stats: SweepStats) -> None:
        """Tickets still ``new`` (nobody fitted at intake, or opened by hand): tried again."""
        waiting, _ = store.list_tickets(conn=conn, state="new", limit=self.batch)
        for t in reversed(waiting):  # oldest first
            if self.halt.is_set():
                return
            try:
                assignee = auto_dispatch(conn=conn, ticket_id=t.id, policy=self.policy,
                                         now=self.clock())
            except Exception:
                if not usable(conn):
                    raise
                log.exception("ticket %s left undispatched", t.number)
                continue
            if assignee is not None:
                stats.dispatched += 1
                log.info("ticket %s (grade %s) dispatched to %s", t.number, t.grade, assignee)

    def _one(self, conn: store.Conn, a: store.UnticketedAnomaly, stats: SweepStats) -> None:
        try:
            result = ticket_anomaly(conn=conn, anomaly_id=a.id, policy=self.policy,
                                    now=self.clock(),
                                    dispatch_at=self.clock if self.dispatch else None)
        except Exception:
            if not usable(conn):
                raise  # the database went away: the sweep is retried on a new connection
            # One bad anomaly must not stop the others; it is retried at the next start.
            self.failed.add(a.id)
            stats.failed += 1
            log.exception("anomaly %s (robot %s, %s/%s, impact %s) skipped: cannot ticket it",
                          a.id, a.robot, a.component, a.kind, a.impact)
            return
        if result.ticket_id is None:
            return
        if not result.created:
            stats.appended += 1
            log.info("anomaly %s appended to ticket %s", a.id, result.ticket_number)
            return
        stats.created += 1
        log.info("ticket %s opened for anomaly %s (robot %s, %s/%s)", result.ticket_number,
                 a.id, a.robot, a.component, a.kind)
        if result.dispatched_to is not None:
            # In the intake's transaction, not after the rest of the backlog: anomaly ->
            # dispatch is a latency the issue bounds (p99 200 ms).
            stats.dispatched += 1
            log.info("ticket %s dispatched to %s", result.ticket_number, result.dispatched_to)

    def close(self) -> None:
        self.db.close()


async def _listen(conninfo: str, wake: asyncio.Event, timers: asyncio.Event) -> None:
    """Set ``wake`` on every new anomaly and ``timers`` on every ticket change; reconnect
    forever with capped, jittered backoff."""
    while True:
        async with contextlib.AsyncExitStack() as stack:
            events = await events_channel.listen_until_connected(
                stack, conninfo=conninfo, first_s=_RETRY_FIRST_S, max_s=_RETRY_CAP_S,
                logger=log, what="event listener cannot connect")
            log.info("listening on %s", events_channel.CHANNEL)
            wake.set()  # anything inserted while we were not listening
            timers.set()
            try:
                async for ev in events:
                    if ev.type == "anomaly" and ev.op == "insert":
                        wake.set()
                    elif ev.type in ("ticket", "ticket_event"):
                        # A changed ticket may have a timer due sooner; an acknowledged handover
                        # (history rows only) makes its reassignment due now.
                        timers.set()
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                log.warning("event listener lost (%s); reconnecting", first_line(exc))


async def run_ticketing(
    *,
    conninfo: str,
    policy: Policy,
    stop: asyncio.Event,
    sweep_every: float = 5.0,
    batch: int = 200,
    dispatch: bool = True,
    clock: Callable[[], datetime] = _utcnow,
    also: Sequence[ExtraPass] = (),
) -> None:
    """Ticket anomalies until ``stop`` is set. A failing sweep (database down) is logged and
    retried at the next tick; it never ends the service. ``also``: other owners' timer passes
    the timer loop runs after the tickets' and the feedback records' (the process wires
    maintenance's inspection timers in, which ticketing may not import)."""
    if sweep_every <= 0:
        raise ValueError("sweep_every must be > 0")
    worker = _Worker(conninfo=conninfo, policy=policy, clock=clock, batch=batch,
                     dispatch=dispatch)
    wake = asyncio.Event()
    timers_wake = asyncio.Event()
    listener = asyncio.create_task(_listen(conninfo, wake, timers_wake),
                                   name="ticketing-listener")
    timer_loop = asyncio.create_task(
        run_timers(conninfo=conninfo, policy=policy, stop=stop, wake=timers_wake, clock=clock,
                   also=((feedback_pass,) if policy.feedback is not None else ()) + tuple(also)),
        name="ticketing-timers")
    log.info("ticketing service started with policy %s", policy.label)
    sweep: asyncio.Future[SweepStats] | None = None
    try:
        while not stop.is_set():
            if listener.done():
                # _listen never returns by itself: a bug, not a lost connection. Show it in
                # full and listen again; the periodic sweep has covered the gap.
                log.error("event listener died; restarting it", exc_info=listener.exception())
                listener = asyncio.create_task(_listen(conninfo, wake, timers_wake),
                                               name="ticketing-listener")
            wake.clear()
            sweep = asyncio.ensure_future(asyncio.to_thread(worker.sweep))
            try:
                stats = await asyncio.shield(sweep)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop outlives a lost database
                log.error("sweep failed: %s", first_line(exc))
                await asyncio.to_thread(worker.close)
            else:
                if stats.created or stats.appended or stats.failed:
                    log.info("sweep: %d created, %d appended, %d dispatched, %d failed",
                             stats.created, stats.appended, stats.dispatched, stats.failed)
            await wait_either(stop, wake, sweep_every)
    finally:
        worker.halt.set()
        listener.cancel()
        if not stop.is_set():
            timer_loop.cancel()  # leaving on an error; on stop it ends by itself, connection closed
        await asyncio.gather(listener, timer_loop, return_exceptions=True)
        if sweep is not None and not sweep.done():
            # The thread cannot be cancelled; it stops at the next anomaly boundary.
            await asyncio.gather(sweep, return_exceptions=True)
        await asyncio.to_thread(worker.close)
        log.info("ticketing service stopped")
