"""``/api/v1/stream``: a WebSocket that pushes every anomaly and ticket change as it happens.

Messages are :class:`api.schemas.StreamMessage` JSON texts, read from the database once and
fanned out by the hub. The server never waits on what a client says; it only watches for
the disconnect. Close codes: 1001 server shutting down, 1013 client too slow (queue
overflowed); either way the client should reconnect and re-read the lists.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, WebSocket
from starlette.websockets import WebSocketState

from api.deps import HubDep, get_current_user
from api.hub import Subscription

router = APIRouter(tags=["stream"], dependencies=[Depends(get_current_user)])

log = logging.getLogger(__name__)

_CLOSE = {"shutdown": (1001, "server shutting down"), "overflow": (1013, "client too slow")}
# A client too slow for its queue may be too slow to take a close frame as well.
_CLOSE_TIMEOUT = 5.0


async def _send_all(websocket: WebSocket, sub: Subscription) -> None:
    while True:
        await websocket.send_text(await sub.get())


async def _until_disconnect(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


@router.websocket("/stream")
async def stream(websocket: WebSocket, hub: HubDep) -> None:
    await websocket.accept()
    with hub.subscribe() as sub:
        tasks = [
            asyncio.create_task(_send_all(websocket, sub)),
            asyncio.create_task(_until_disconnect(websocket)),
            asyncio.create_task(sub.ended.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            # Collects the tasks' outcomes (a send to a vanished client raises) so none is
            # left unretrieved; our own cancellation still propagates from wait() above.
            await asyncio.gather(*tasks, return_exceptions=True)
    if sub.reason is not None and websocket.application_state == WebSocketState.CONNECTED:
        code, reason = _CLOSE[sub.reason]
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await websocket.close(code=code, reason=reason)
        except (TimeoutError, RuntimeError, OSError) as exc:
            log.info("stream client left before its close frame: %r", exc)
