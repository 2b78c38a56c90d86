"""The database side of the live stream: one LISTEN connection per app feeding the hub.

A notification on ``robowatch_events`` only wakes the relay; what it relays is read from the
stream log (``storage.stream_log``), in id order, from where it stopped. Each entry's row is
read once (through the pool, off the event loop), rendered once with the entry's id, and the
hub fans the same text out to every client. A lost connection is re-established with capped,
jittered exponential back-off, and what was committed meanwhile is read from the log, so
nothing is lost. :meth:`Relay.replay` gives a reconnecting client the entries after the last
id it saw, rendered the same way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import anyio.to_thread

from api.hub import Hub, Topic
from api.parts_schemas import WarningPublic
from api.schemas import (
    AnomalyPublic,
    InspectionEventPublic,
    StreamMessage,
    TicketEventPublic,
    TicketPublic,
)
from storage.anomalies import get_anomaly
from storage.connect import Conn, DatabaseUnavailable, Pool, first_line
from storage.events import listen_until_connected
from storage.maintenance import get_inspection, get_inspection_event
from storage.parts import get_stock_warning
from storage.stream_log import StreamEntry, entries_after, first_entry_id, last_entry_id
from storage.tickets import get_ticket, get_ticket_event

__all__ = ["Relay", "RelayState", "Rendered", "render"]

log = logging.getLogger(__name__)

RelayState = Literal["connecting", "listening", "stopped"]

# Entries read per query while catching up: one round trip per batch, bounded memory.
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Rendered:
    id: int
    text: str
    topic: Topic


def render(conn: Conn, entry: StreamEntry, now: datetime) -> Rendered | None:
    """The stream message of one log entry (its row as it is now); None if the row is gone."""
    data: TicketPublic | AnomalyPublic | TicketEventPublic | WarningPublic | InspectionEventPublic
    if entry.type == "inspection_event":
        step = get_inspection_event(conn=conn, event_id=entry.row_id)
        order = None if step is None else get_inspection(conn=conn,
                                                         inspection_id=step.inspection_id)
        if step is None or order is None:
            return None
        data, customer = InspectionEventPublic.of(step), order.customer
    elif entry.type == "part_warning":
        warning = get_stock_warning(conn=conn, warning_id=entry.row_id)
        if warning is None:
            return None
        # Stock is company-internal: no customer, so a customer-bound caller never sees it
        # (Caller.sees("") is False for it).
        data, customer = WarningPublic.of(warning), ""
    elif entry.type == "ticket":
        ticket = get_ticket(conn=conn, ticket_id=entry.row_id)
        if ticket is None:
            return None
        data, customer = TicketPublic.of(ticket, now=now), ticket.customer
    elif entry.type == "ticket_event":
        history = get_ticket_event(conn=conn, event_id=entry.row_id)
        # Whose it is decides who may receive it (a customer viewer: its own only).
        owner = None if history is None else get_ticket(conn=conn, ticket_id=history.ticket_id)
        if history is None or owner is None:
            return None
        data, customer = TicketEventPublic.of(history), owner.customer
    else:
        anomaly = get_anomaly(conn=conn, anomaly_id=entry.row_id)
        if anomaly is None:
            return None
        data, customer = AnomalyPublic.of(anomaly), anomaly.customer
    text = StreamMessage(id=entry.id, type=entry.type, op=entry.op, data=data).model_dump_json()
    return Rendered(id=entry.id, text=text, topic=Topic(type=entry.type, customer=customer))


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
        # The last log entry published; None until the first connection reads the log's end.
        self._cursor: int | None = None
        self.state: RelayState = "connecting"

    async def run(self) -> None:
        """Listen until cancelled; never returns otherwise and never raises a DB error."""
        try:
            while True:
                async with contextlib.AsyncExitStack() as stack:
                    events = await listen_until_connected(
                        stack, conninfo=self._conninfo, heartbeat=self._heartbeat,
                        first_s=0.5, max_s=self._backoff_max, logger=log,
                        what="live stream: cannot listen")
                    self.state = "listening"
                    log.info("live stream listening for database events")
                    try:
                        if self._cursor is None:
                            self._cursor = await anyio.to_thread.run_sync(self._log_end)
                        # The LISTEN is in effect: whatever was committed before it (while
                        # we were away) is in the log already, and what follows wakes us.
                        await self._drain()
                        async for _ in events:
                            await self._drain()
                    except DatabaseUnavailable as exc:
                        log.warning("live stream: database connection lost (%s); reconnecting",
                                    first_line(exc))
                    except Exception:  # noqa: BLE001 - the stream must outlive any failure
                        log.exception("live stream failed; reconnecting")
                    self.state = "connecting"
        finally:
            self.state = "stopped"

    def _log_end(self) -> int:
        with self._pool.connection() as conn:
            return last_entry_id(conn=conn)

    async def _drain(self) -> None:
        # Everything after the cursor, batch by batch; a DB error propagates to run().
        while True:
            batch, last, read = await anyio.to_thread.run_sync(self._read, self._cursor or 0)
            for item in batch:
                if item is not None:
                    self._hub.publish(item.text, topic=item.topic, event_id=item.id)
            if last is not None:
                self._cursor = last
            if read < _BATCH:
                return

    def _read(self, after_id: int) -> tuple[list[Rendered | None], int | None, int]:
        # Runs in a worker thread: the pool and the storage functions block. The last id
        # read (and how many were) comes back too: an entry whose row is gone, or that nobody
        # was listening for, still moves the cursor.
        now = self._clock()
        with self._pool.connection() as conn:
            entries = entries_after(conn=conn, after_id=after_id, limit=_BATCH)
            # Nobody listening (asked after the read): a client that subscribes later did so
            # after these entries were committed, so they are not its to receive. Rendering
            # them anyway cost every ticket event two more reads in every worker.
            last = entries[-1].id if entries else None
            if not self._hub.clients:
                return [], last, len(entries)
            out = [self._render_one(conn, e, now) for e in entries]
        return out, last, len(entries)

    @staticmethod
    def _render_one(conn: Conn, entry: StreamEntry, now: datetime) -> Rendered | None:
        try:
            rendered = render(conn, entry, now)
        except Exception:  # noqa: BLE001 - one unreadable row must not stop the stream
            log.exception("live stream could not read %s %d", entry.type, entry.row_id)
            return None
        if rendered is None:
            log.info("live stream: %s %d is gone; not relayed", entry.type, entry.row_id)
        return rendered

    def replay(self, after_id: int, *, limit: int) -> list[Rendered] | None:
        """The messages after ``after_id`` (at most ``limit``), for a client that reconnects;
        None when they cannot all be given (the log no longer reaches back that far, or more
        than ``limit`` are due): the client must re-read its lists. Blocking: call it in a
        worker thread."""
        now = self._clock()
        with self._pool.connection() as conn:
            first = first_entry_id(conn=conn)
            if first is not None and after_id < first - 1:
                return None
            entries = entries_after(conn=conn, after_id=after_id, limit=limit + 1)
            if len(entries) > limit:
                return None
            rendered = (self._render_one(conn, e, now) for e in entries)
            return [r for r in rendered if r is not None]
