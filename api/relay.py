"""The database side of the live stream: one LISTEN connection per app feeding the hub.

Each notification names a row; the relay reads it once (through the pool, off the event
loop), renders the message once, and the hub fans the same text out to every client. A lost
connection is re-established with capped, jittered exponential back-off; after a reconnect
clients get ``{"type": "resync"}`` because notifications sent meanwhile are gone for good.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import anyio.to_thread

from api.hub import Hub, Topic
from api.parts_schemas import WarningPublic
from api.schemas import AnomalyPublic, StreamMessage, TicketEventPublic, TicketPublic
from storage.anomalies import get_anomaly
from storage.connect import DatabaseUnavailable, Pool, first_line
from storage.events import Event, listen_until_connected
from storage.parts import get_stock_warning
from storage.tickets import get_ticket, get_ticket_event

__all__ = ["Relay", "RelayState"]

log = logging.getLogger(__name__)

RelayState = Literal["connecting", "listening", "stopped"]


class Relay:
    def __init__(
        self,
        *,
        conninfo: str,
        pool: Pool,
        hub: Hub,
        clock: Callable[[], datetime],
        heartbeat: float = 30.0,
        backoff_max: float = 30.0,
    ) -> None:
        self._conninfo = conninfo
        self._pool = pool
        self._hub = hub
        self._clock = clock
        self._heartbeat = heartbeat
        self._backoff_max = backoff_max
        self.state: RelayState = "connecting"

    async def run(self) -> None:
        """Listen until cancelled; never returns otherwise and never raises a DB error."""
        connected_before = False
        try:
            while True:
                async with contextlib.AsyncExitStack() as stack:
                    events = await listen_until_connected(
                        stack, conninfo=self._conninfo, heartbeat=self._heartbeat,
                        first_s=0.5, max_s=self._backoff_max, logger=log,
                        what="live stream: cannot listen")
                    self.state = "listening"
                    if connected_before:
                        self._hub.publish(StreamMessage(type="resync").model_dump_json())
                    connected_before = True
                    log.info("live stream listening for database events")
                    try:
                        async for event in events:
                            await self._relay(event)
                    except DatabaseUnavailable as exc:
                        log.warning("live stream: database connection lost (%s); reconnecting",
                                    first_line(exc))
                    except Exception:  # noqa: BLE001 - the stream must outlive any failure
                        log.exception("live stream failed; reconnecting")
                    self.state = "connecting"
        finally:
            self.state = "stopped"

    async def _relay(self, event: Event) -> None:
        try:
            rendered = await anyio.to_thread.run_sync(self._render, event)
        except Exception:  # noqa: BLE001 - one unreadable row must not stop the stream
            log.exception("live stream could not read %s %d", event.type, event.id)
            return
        if rendered is None:
            log.info("live stream: %s %d is gone; not relayed", event.type, event.id)
            return
        message, topic = rendered
        self._hub.publish(message, topic=topic)

    def _render(self, event: Event) -> tuple[str, Topic] | None:
        # Runs in a worker thread: the pool and the storage functions block.
        data: TicketPublic | AnomalyPublic | TicketEventPublic | WarningPublic
        with self._pool.connection() as conn:
            if event.type == "part_warning":
                warning = get_stock_warning(conn=conn, warning_id=event.id)
                if warning is None:
                    return None
                data = WarningPublic.of(warning)
                # Stock is company-internal: no customer, so a customer-bound caller never
                # sees it (Caller.sees("") is False for it).
                customer = ""
            elif event.type == "ticket":
                ticket = get_ticket(conn=conn, ticket_id=event.id)
                if ticket is None:
                    return None
                data = TicketPublic.of(ticket, now=self._clock())
                customer = ticket.customer
            elif event.type == "ticket_event":
                history = get_ticket_event(conn=conn, event_id=event.id)
                if history is None:
                    return None
                data = TicketEventPublic.of(history)
                # Whose it is decides who may receive it (a customer viewer: its own only).
                owner = get_ticket(conn=conn, ticket_id=history.ticket_id)
                if owner is None:
                    return None
                customer = owner.customer
            else:
                anomaly = get_anomaly(conn=conn, anomaly_id=event.id)
                if anomaly is None:
                    return None
                data = AnomalyPublic.of(anomaly)
                customer = anomaly.customer
        message = StreamMessage(type=event.type, op=event.op, data=data).model_dump_json()
        return message, Topic(type=event.type, customer=customer)
