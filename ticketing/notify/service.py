"""The notification outbox at work: plan deliveries from new ticket and feedback events, send
what is due, retry with backoff, record every outcome.

One sender at a time: each process takes a session advisory lock before sending, and a second
process waits as a hot standby. The lock holder first marks deliveries left ``sending`` by a
process that died as ``interrupted`` (never sent twice), then loops. Database work runs in a
worker thread; sending runs on the event loop (webhooks) or in a thread (SMTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx

from storage import notifications as store
from storage.connect import Conn, Reconnecting, first_line
from storage.locks import release_session_lock, try_session_lock
from ticketing.duty import on_duty
from ticketing.notify.channels import ChannelConfig, DeliveryError, send_email, send_webhook
from ticketing.notify.plan import deliveries_for, feedback_deliveries_for
from ticketing.policy import GRADES, NotificationRules

__all__ = ["NotifierStats", "Notifier", "run_notifications", "retry_delay"]

log = logging.getLogger(__name__)

SENDER_LOCK = "robowatch:notifications:sender"
# An inspection has no grade; its notices take the routes of the lowest one (routes for every
# grade reach it, those kept for grades I/II do not).
INSPECTION_GRADE = GRADES[-1]


def retry_delay(rules: NotificationRules, attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: doubling from ``retry_first``, capped."""
    first: timedelta = rules.retry_first
    cap: timedelta = rules.retry_cap
    wait: timedelta = first * (2 ** max(attempts - 1, 0))
    return wait if wait < cap else cap


@dataclass(slots=True)
class NotifierStats:
    planned: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0


class Notifier:
    """Plans and sends on one connection it owns; ``plan`` and ``claim`` run in a thread."""

    def __init__(self, *, conninfo: str, rules: NotificationRules, channels: ChannelConfig,
                 clock: Callable[[], datetime], batch: int = 100) -> None:
        self._rules = rules
        self._channels = channels
        self._clock = clock
        self._batch = batch
        self._db = Reconnecting(conninfo)

    def _connection(self) -> Conn:
        return self._db.get()

    def close(self) -> None:
        self._db.close()

    # -- database side (worker thread) ---------------------------------------------------

    def take_lead(self) -> bool:
        """Become the sender if no other process is; then clear what a dead one left."""
        conn = self._connection()
        if not try_session_lock(conn=conn, name=SENDER_LOCK):
            return False
        cut = store.interrupt_stale_sends(conn=conn)
        if cut:
            log.warning("%d notifications were being sent when the last sender stopped; marked "
                        "interrupted, not sent again", cut)
        return True

    def step_down(self) -> None:
        conn = self._db.current
        if conn is not None:
            release_session_lock(conn=conn, name=SENDER_LOCK)

    def _deliveries(self, conn: Conn, ev: store.EventToNotify) -> list[store.PlannedDelivery]:
        assignee = store.person(conn=conn, code=ev.assignee) if ev.assignee else None
        # Who was on duty when it happened.
        return deliveries_for(ev, rules=self._rules, assignee=assignee,
                              people_with_role=partial(_on_duty, conn, at=ev.at))

    def plan(self) -> int:
        conn = self._connection()
        planned = 0
        with conn.transaction():
            events = store.events_after(conn=conn, kinds=self._rules.events, limit=self._batch)
            for ev in events:
                planned += store.plan_deliveries(conn=conn, event=ev,
                                                 deliveries=self._deliveries(conn, ev),
                                                 read_up_to=ev.id, due_at=self._clock())
            # Inspection work orders' warnings, breaches and escalations (maintenance timers),
            # routed like a ticket of the lowest grade.
            for ev in store.inspection_events_after(conn=conn, kinds=self._rules.events,
                                                    grade=INSPECTION_GRADE, limit=self._batch):
                planned += store.plan_inspection_deliveries(
                    conn=conn, event=ev, deliveries=self._deliveries(conn, ev), read_up_to=ev.id,
                    due_at=self._clock())
            planned += self._plan_feedback(conn)
        return planned

    def _plan_feedback(self, conn: Conn) -> int:
        """Feedback and complaint events, past their own cursor, in the same transaction."""
        kinds = self._rules.events_of("feedback")
        if not kinds:
            return 0
        planned = 0
        for fev in store.feedback_events_after(conn=conn, kinds=kinds, limit=self._batch):
            deliveries = feedback_deliveries_for(
                fev, rules=self._rules,
                people_with_role=partial(_on_duty, conn, at=fev.at))
            planned += store.plan_feedback_deliveries(conn=conn, event=fev,
                                                      deliveries=deliveries,
                                                      read_up_to=fev.id, due_at=self._clock())
        return planned

    def claim(self) -> list[store.Delivery]:
        return store.claim_due(conn=self._connection(), now=self._clock(), limit=self._batch)

    def record(self, delivery: store.Delivery, error: DeliveryError | None) -> str:
        conn = self._connection()
        if error is None:
            store.mark_delivered(conn=conn, delivery_id=delivery.id, at=self._clock())
            return "delivered"
        if error.permanent or delivery.attempts >= self._rules.max_attempts:
            store.mark_failed(conn=conn, delivery_id=delivery.id, error=str(error))
            return "failed"
        store.mark_retry(conn=conn, delivery_id=delivery.id, error=str(error),
                         next_attempt_at=self._clock() + retry_delay(self._rules,
                                                                     delivery.attempts))
        return "retried"

    # -- sending side (event loop) ---------------------------------------------------------

    async def send(self, client: httpx.AsyncClient, d: store.Delivery) -> DeliveryError | None:
        try:
            if d.channel == "email":
                await send_email(self._channels, to=d.recipient, subject=d.subject, body=d.body,
                                 delivery_id=d.id)
            else:
                await send_webhook(self._channels, client, name=d.recipient, subject=d.subject,
                                   body=d.body, delivery_id=d.id,
                                   extra=_webhook_extra(d))
        except DeliveryError as exc:
            return exc
        return None

    async def pass_once(self, client: httpx.AsyncClient) -> NotifierStats:
        """Plan new events, then send everything due once."""
        stats = NotifierStats(planned=await asyncio.to_thread(self.plan))
        for d in await asyncio.to_thread(self.claim):
            error = await self.send(client, d)
            outcome = await asyncio.to_thread(self.record, d, error)
            stats.delivered += outcome == "delivered"
            stats.retried += outcome == "retried"
            stats.failed += outcome == "failed"
            if error is None:
                log.info("notification %d (%s to %s) delivered", d.id, d.channel, d.recipient)
            else:
                log.log(logging.INFO if error.unconfigured else logging.WARNING,
                        "notification %d (%s to %s) %s after attempt %d: %s", d.id,
                        d.channel, d.recipient, outcome, d.attempts, error)
        return stats


def _webhook_extra(d: store.Delivery) -> dict[str, int]:
    """The ids a generic webhook receiver gets: the delivery and the event it tells of."""
    if d.feedback_event_id is not None:
        return {"delivery_id": d.id, "feedback_event_id": d.feedback_event_id}
    assert d.event_id is not None  # the outbox's check: one of the two
    return {"delivery_id": d.id, "event_id": d.event_id}


def _on_duty(conn: Conn, role: str, at: datetime) -> list[store.Recipient]:
    """The people of ``role`` on duty at ``at``, by the roster in force."""
    return store.people_with_role(conn=conn, role=role,
                                  codes=sorted(on_duty(conn=conn, at=at, role=role)))


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def run_notifications(
    *,
    conninfo: str,
    rules: NotificationRules,
    channels: ChannelConfig,
    stop: asyncio.Event,
    poll_s: float = 2.0,
    clock: Callable[[], datetime] = _utcnow,
) -> None:
    """Send notifications until ``stop`` is set. A lost database is logged and retried at the
    next poll; it never ends the loop."""
    notifier = Notifier(conninfo=conninfo, rules=rules, channels=channels, clock=clock)
    leading = False
    try:
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                try:
                    if not leading:
                        leading = await asyncio.to_thread(notifier.take_lead)
                        if leading:
                            log.info("notification sender active")
                    if leading:
                        await notifier.pass_once(client)
                except Exception as exc:  # noqa: BLE001 - the loop outlives a lost database
                    log.error("notification pass failed: %s", first_line(exc))
                    leading = False  # the lock went with the connection
                    await asyncio.to_thread(notifier.close)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)
    finally:
        if leading:
            await asyncio.to_thread(notifier.step_down)
        await asyncio.to_thread(notifier.close)
