"""The ``robowatch_events`` channel: parse its payloads and listen to it.

Triggers on ``anomalies`` and ``tickets`` (migration 0003) announce every insert and update, and
on ``ticket_events`` (migration 0007) every new event of a ticket's history, as
``{"type": "anomaly"|"ticket"|"ticket_event", "op": "insert"|"update", "id": N}``, and on
``part_stock_warnings`` (migration 0011) every low-stock warning raised or cleared
(``"part_warning"``), and on ``inspection_events`` (migration 0016) every new entry of an
inspection work order's history (``"inspection_event"``); listeners
fetch the row themselves, so a payload stays small and never carries stale data.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import psycopg
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from storage.connect import log_retry

__all__ = ["CHANNEL", "Event", "parse_event", "listen_events", "listen_until_connected"]

CHANNEL = "robowatch_events"
EVENT_TYPES = ("anomaly", "ticket", "ticket_event", "part_warning", "inspection_event")
EVENT_OPS = ("insert", "update")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    type: Literal["anomaly", "ticket", "ticket_event", "part_warning", "inspection_event"]
    op: Literal["insert", "update"]
    id: int


def parse_event(payload: str) -> Event:
    """Validate one notification payload; ``ValueError`` says what is wrong with it."""
    try:
        obj = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    typ, op, ident = obj.get("type"), obj.get("op"), obj.get("id")
    if typ not in EVENT_TYPES:
        raise ValueError(f"type must be one of {EVENT_TYPES}, got {typ!r}")
    if op not in EVENT_OPS:
        raise ValueError(f"op must be one of {EVENT_OPS}, got {op!r}")
    # bool is an int subclass; a payload saying "id": true is still malformed.
    if not isinstance(ident, int) or isinstance(ident, bool) or ident <= 0:
        raise ValueError(f"id must be a positive integer, got {ident!r}")
    return Event(type=typ, op=op, id=ident)


async def _events(
    conn: psycopg.AsyncConnection, heartbeat: float
) -> AsyncIterator[Event]:
    while True:
        async for note in conn.notifies(timeout=heartbeat):
            try:
                yield parse_event(note.payload)
            except ValueError as exc:
                log.warning("ignored malformed %s payload %r: %s", CHANNEL, note.payload[:200], exc)
        # A quiet channel is indistinguishable from a dead link until we speak: a round trip
        # every ``heartbeat`` seconds turns a silently dropped connection into an error.
        await conn.execute("SELECT 1")


@contextlib.asynccontextmanager
async def listen_events(
    *, conninfo: str, heartbeat: float = 30.0
) -> AsyncIterator[AsyncIterator[Event]]:
    """One dedicated connection LISTENing on :data:`CHANNEL`.

    On entry the LISTEN is in effect, so every change committed afterwards is seen; the
    iterator yields valid events (malformed payloads are logged and skipped) and raises
    ``psycopg.OperationalError`` when the connection is lost. Reconnecting is the caller's
    policy.
    """
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    async with conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        yield _events(conn, heartbeat)



async def listen_until_connected(
    stack: contextlib.AsyncExitStack, *, conninfo: str, first_s: float, max_s: float,
    logger: logging.Logger, what: str, heartbeat: float = 30.0,
) -> AsyncIterator[Event]:
    """:func:`listen_events` entered on ``stack``, retried with capped, jittered exponential
    backoff (one line per failed attempt on ``logger``) until it connects. A fresh policy per
    call, so a listener that loops around it backs off anew only after a healthy session."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential_jitter(multiplier=first_s, jitter=first_s, max=max_s),
        before_sleep=log_retry(logger, what), reraise=True,
    ):
        with attempt:
            return await stack.enter_async_context(
                listen_events(conninfo=conninfo, heartbeat=heartbeat))
    raise RuntimeError("unreachable: the retry loop returns or raises")
