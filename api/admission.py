"""Admission: how many HTTP requests may use the database at once; the rest queue for free.

Sync dependencies and handlers run in AnyIO's worker threads (40 per process). A request that
waits for a pooled connection waits *in* one of them. With more callers than threads, every
thread could end up waiting for a connection while the requests that hold the connections
need a thread to run their handler and to give their connection back: nothing moves until
the pool's timeout answers 503. ``bench ticketing`` showed exactly that (50 clients, 8
connections: 4-5 requests/s, p50 10 s, 91 of 371 answers 503 "couldn't get a connection
after 10.00 sec", the connections "idle in transaction" meanwhile).

So a request first takes a place at this gate, in the event loop, where waiting costs no
thread; only then does it borrow a connection. With as many places as the pool has
connections, a request that has been admitted finds one at once (the live stream's relay
may hold one for a moment), and a busy server queues requests instead of failing them.
WebSockets are not gated: they live for hours and borrow a connection only for a moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import Depends
from starlette.requests import HTTPConnection

__all__ = ["Admitted", "admitted", "new_gate"]


def new_gate(places: int) -> anyio.Semaphore:
    """The gate of one app (created in its lifespan, inside the running event loop)."""
    if places < 1:
        raise ValueError("the gate needs at least one place")
    return anyio.Semaphore(places)


async def admitted(connection: HTTPConnection) -> AsyncIterator[None]:
    """Hold a place for the rest of the handler (an async dependency: it waits in the loop)."""
    if connection.scope["type"] != "http":
        yield
        return
    gate: anyio.Semaphore = connection.app.state.gate
    async with gate:
        yield


# One object, so that FastAPI resolves it once per request however many dependencies name it
# (the caller's lookup and the handler's connection share the place). scope="function": the
# place is given back when the handler returns, after its connection, before the response is
# sent (a streamed response does not keep it).
Admitted: Any = Depends(admitted, scope="function")
