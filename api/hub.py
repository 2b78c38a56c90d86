"""Fan-out of live-stream messages to WebSocket and SSE clients, without letting one slow
client stall.

Each client gets a bounded queue of ``(event id, text)``; the id is the message's position in
the stream log (None for a ``resync``), so a client that replayed the log up to some id can
skip what it already sent. Publishing never awaits: a client whose queue is full is
ended (reason ``overflow``) and removed, so the others, and the single database listener that
feeds the hub, keep their pace. Such a client reconnects and re-reads the lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["Hub", "Subscription", "EndReason", "Topic"]

log = logging.getLogger(__name__)

EndReason = Literal["overflow", "shutdown"]


@dataclass(frozen=True, slots=True)
class Topic:
    """What a message is about, for a subscriber's filter (a customer viewer sees its own
    customer's rows only; a role that may not read anomalies gets no anomaly messages)."""

    type: str
    customer: str


class Subscription:
    """One client's queue of serialised messages; ``ended`` is set when the hub drops it."""

    def __init__(self, *, maxsize: int, accepts: Callable[[Topic], bool] | None = None) -> None:
        self._queue: asyncio.Queue[tuple[int | None, str]] = asyncio.Queue(maxsize=maxsize)
        self.accepts = accepts
        self.ended = asyncio.Event()
        self.reason: EndReason | None = None

    async def get(self) -> str:
        return (await self._queue.get())[1]

    async def next(self) -> tuple[int | None, str]:
        """The next message with its stream log id (None for a ``resync``)."""
        return await self._queue.get()

    def _offer(self, message: str, event_id: int | None) -> bool:
        try:
            self._queue.put_nowait((event_id, message))
        except asyncio.QueueFull:
            return False
        return True

    def _end(self, reason: EndReason) -> None:
        if self.reason is None:
            self.reason = reason
            self.ended.set()


class Hub:
    """Lives in one event loop; ``publish`` and ``close`` must be called from it."""

    def __init__(self, *, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self._queue_size = queue_size
        self._subs: set[Subscription] = set()
        self._closed = False

    @property
    def clients(self) -> int:
        return len(self._subs)

    @contextlib.contextmanager
    def subscribe(self, accepts: Callable[[Topic], bool] | None = None) -> Iterator[Subscription]:
        """A new subscriber; ``accepts`` filters messages published with a topic (messages
        without one, such as ``resync``, reach everyone)."""
        sub = Subscription(maxsize=self._queue_size, accepts=accepts)
        if self._closed:
            sub._end("shutdown")
        else:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    def publish(
        self, message: str, *, topic: Topic | None = None, event_id: int | None = None
    ) -> None:
        for sub in list(self._subs):
            if topic is not None and sub.accepts is not None and not sub.accepts(topic):
                continue
            if not sub._offer(message, event_id):
                log.warning("stream client dropped: %d messages queued and unread",
                            self._queue_size)
                self._subs.discard(sub)
                sub._end("overflow")

    def close(self) -> None:
        self._closed = True
        for sub in self._subs:
            sub._end("shutdown")
        self._subs.clear()
