"""``/api/v1/stream``: a WebSocket that pushes every anomaly and ticket change as it happens.

Messages are :class:`api.schemas.StreamMessage` JSON texts, read from the database once and
fanned out by the hub. The server never waits on what a client says; it only watches for
the disconnect. Close codes: 1001 server shutting down, 1013 client too slow (queue
overflowed); either way the client should reconnect and re-read the lists. 1008 (policy
violation): the session expired or was revoked; sign in again.

The handshake needs a caller like every request (a browser sends the session cookie, other
clients the ``Authorization`` header); a refused one gets the HTTP 401 instead of the
upgrade. Each client receives only what it may read: anomaly messages if its role reads
anomalies, ticket messages if it reads tickets, low-stock warnings if it reads parts, and only
its own customer's when it is bound to one (never a warning: stock is company-internal).
The session is re-checked every ``stream_auth_recheck`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio.to_thread
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketState

from api.auth.caller import Caller, caller_from_token, credentials_of
from api.deps import AccessDep, ConfigDep, CurrentUser, HubDep
from api.hub import Subscription, Topic
from storage.connect import DatabaseError, PoolTimeout, first_line
from ticketing.access import AccessPolicy

router = APIRouter(tags=["stream"])

log = logging.getLogger(__name__)

_CLOSE = {"shutdown": (1001, "server shutting down"), "overflow": (1013, "client too slow"),
          "session": (1008, "session ended; sign in again")}
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


def _filter(caller: Caller, access: AccessPolicy) -> Callable[[Topic], bool]:
    scopes = {t: access.may_read(caller.role, s)
              for t, s in (("anomaly", "anomalies"), ("ticket", "tickets"),
                           ("ticket_event", "tickets"), ("part_warning", "parts"))}

    def accepts(topic: Topic) -> bool:
        return scopes.get(topic.type, False) and caller.sees(topic.customer)

    return accepts


def _still_valid(websocket: WebSocket, cookie_name: str, config: ConfigDep) -> bool:
    found = credentials_of(websocket, cookie_name=cookie_name)
    if found is None:
        return False
    with websocket.app.state.pool.connection() as conn:
        return caller_from_token(conn=conn, token=found[0], now=config.clock()) is not None


async def _until_session_ends(websocket: WebSocket, config: ConfigDep) -> None:
    # Ends when the token expires or is revoked (logout, user disabled), checked every
    # stream_auth_recheck seconds; an API key only ends by revocation.
    while True:
        await asyncio.sleep(config.stream_auth_recheck)
        try:
            valid = await anyio.to_thread.run_sync(_still_valid, websocket, config.cookie_name,
                                                   config)
        except (DatabaseError, PoolTimeout) as exc:
            # The database being away is not the session ending: check again next time.
            log.warning("stream: session re-check failed (%s); stream kept", first_line(exc))
            continue
        if not valid:
            return


@router.websocket("/stream")
async def stream(
    websocket: WebSocket, hub: HubDep, caller: CurrentUser, access: AccessDep, config: ConfigDep
) -> None:
    await websocket.accept()
    with hub.subscribe(_filter(caller, access)) as sub:
        session = asyncio.create_task(_until_session_ends(websocket, config))
        tasks = [
            asyncio.create_task(_send_all(websocket, sub)),
            asyncio.create_task(_until_disconnect(websocket)),
            asyncio.create_task(sub.ended.wait()),
            session,
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            # Collects the tasks' outcomes (a send to a vanished client raises) so none is
            # left unretrieved; our own cancellation still propagates from wait() above.
            await asyncio.gather(*tasks, return_exceptions=True)
    ended = sub.reason or ("session" if session.done() and not session.cancelled() else None)
    if ended is not None and websocket.application_state == WebSocketState.CONNECTED:
        code, reason = _CLOSE[ended]
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await websocket.close(code=code, reason=reason)
        except (TimeoutError, RuntimeError, OSError) as exc:
            log.info("stream client left before its close frame: %r", exc)
