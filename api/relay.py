"""The database side of the live stream: one LISTEN connection per app feeding the hub.

Each notification names a row; the relay reads it once (through the pool, off the event
loop), renders the message once, and the hub fans the same text out to every client. A lost
connection is re-established with capped, jittered exponential back-off; after a reconnect
clients get ``{"type": "resync"}`` because notifications sent meanwhile are gone for good.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import anyio.to_thread
import psycopg
from psycopg_pool import ConnectionPool

from api.hub import Hub
from api.schemas import AnomalyPublic, StreamMessage, TicketPublic
from storage.anomalies import get_anomaly
from storage.events import Event, listen_events
from storage.tickets import get_ticket

__all__ = ["Relay", "RelayState"]

log = logging.getLogger(__name__)

RelayState = Literal["connecting", "listening", "stopped"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Relay:
    def __init__(
        self,
        *,
        conninfo: str,
        pool: ConnectionPool,
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
        delay = 0.5
        connected_before = False
        try:
            while True:
                try:
                    async with listen_events(conninfo=self._conninfo,
                                             heartbeat=self._heartbeat) as events:
                        self.state = "listening"
                        delay = 0.5
                        if connected_before:
                            self._hub.publish(StreamMessage(type="resync").model_dump_json())
                        connected_before = True
                        log.info("live stream listening for database events")
                        async for event in events:
                            await self._relay(event)
                except Exception as exc:  # noqa: BLE001 - the stream must outlive any failure
                    self.state = "connecting"
                    wait = random.uniform(delay / 2, delay)
                    if isinstance(exc, psycopg.OperationalError):
                        log.warning("live stream: database connection lost (%s); retry in %.1fs",
                                    _first_line(exc), wait)
                    else:
                        log.exception("live stream failed; retry in %.1fs", wait)
                    await asyncio.sleep(wait)
                    delay = min(delay * 2, self._backoff_max)
        finally:
            self.state = "stopped"

    async def _relay(self, event: Event) -> None:
        try:
            message = await anyio.to_thread.run_sync(self._render, event)
        except Exception:  # noqa: BLE001 - one unreadable row must not stop the stream
            log.exception("live stream could not read %s %d", event.type, event.id)
            return
        if message is None:
            log.info("live stream: %s %d is gone; not relayed", event.type, event.id)
            return
        self._hub.publish(message)

    def _render(self, event: Event) -> str | None:
        # Runs in a worker thread: the pool and the storage functions block.
        data: TicketPublic | AnomalyPublic
        with self._pool.connection() as conn:
            if event.type == "ticket":
                ticket = get_ticket(conn=conn, ticket_id=event.id)
                if ticket is None:
                    return None
                data = TicketPublic.of(ticket, now=self._clock())
            else:
                anomaly = get_anomaly(conn=conn, anomaly_id=event.id)
                if anomaly is None:
                    return None
                data = AnomalyPublic.of(anomaly)
        return StreamMessage(type=event.type, op=event.op, data=data).model_dump_json()
