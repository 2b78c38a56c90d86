"""The live stream: every anomaly and ticket change as it happens, over a WebSocket
(``/api/v1/stream``) or Server-Sent Events (``GET /api/v1/stream/events``).

Messages are :class:`api.schemas.StreamMessage` JSON texts, read from the database once and
fanned out by the hub. Each carries ``id``, its position in the stream log: a client that
reconnects with the last id it saw (``?last_event_id=N`` on the WebSocket, the
``Last-Event-ID`` header that browsers' ``EventSource`` sends by itself on SSE) first gets
exactly the messages it missed, then the live ones, none twice. When the log cannot give
them all (more than :data:`REPLAY_MAX`, or older than the log keeps) it gets a ``resync``
first and should re-read its lists.

The server never waits on what a client says; it only watches for the disconnect. Close
codes: 1001 server shutting down, 1013 client too slow (queue overflowed); either way the
client reconnects with its last id. 1008 (policy violation): the session expired or was
revoked; sign in again.

The handshake needs a caller like every request (a browser sends the session cookie, other
clients the ``Authorization`` header); a refused one gets the HTTP 401 instead of the
upgrade. Each client receives only what it may read: anomaly messages if its role reads
anomalies, ticket messages if it reads tickets, low-stock warnings if it reads parts, and only
its own customer's when it is bound to one (never a warning: stock is company-internal).
The session is re-checked every ``stream_auth_recheck`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, WebSocket
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketState

from api.auth import require_read
from api.auth.caller import Caller, caller_from_token, credentials_of
from api.deps import AccessDep, ConfigDep, CurrentUser, HubDep, RelayDep
from api.hub import Subscription, Topic
from api.relay import Relay
from api.schemas import StreamMessage
from storage.connect import DatabaseError, PoolTimeout, first_line
from ticketing.access import AccessPolicy

router = APIRouter(tags=["stream"])

log = logging.getLogger(__name__)

_CLOSE = {"shutdown": (1001, "server shutting down"), "overflow": (1013, "client too slow"),
          "session": (1008, "session ended; sign in again")}
# A client too slow for its queue may be too slow to take a close frame as well.
_CLOSE_TIMEOUT = 5.0
# Messages replayed to a reconnecting client at most: a day of a busy fleet's changes (the
# demo's 200 robots make a few thousand); beyond that re-reading the lists is cheaper.
REPLAY_MAX = 10_000
_RESYNC = StreamMessage(type="resync").model_dump_json()

LastEventId = Annotated[int | None, Query(ge=0, le=2**63 - 1, description=(
    "The id of the last message received before a reconnect: the missed ones come first"))]


async def feed(
    sub: Subscription, relay: Relay, last_event_id: int | None
) -> AsyncGenerator[tuple[int | None, str]]:
    """What one client receives: the replay after ``last_event_id`` (if given), then the live
    messages of ``sub`` that the replay did not already hold. ``sub`` must be subscribed
    before this starts, so nothing committed during the replay falls between the two."""
    sent = last_event_id
    if last_event_id is not None:
        replay = await anyio.to_thread.run_sync(
            functools.partial(relay.replay, last_event_id, limit=REPLAY_MAX))
        if replay is None:
            yield None, _RESYNC
        else:
            for item in replay:
                if sub.accepts is None or sub.accepts(item.topic):
                    yield item.id, item.text
                sent = item.id
    while True:
        event_id, text = await sub.next()
        if event_id is not None and sent is not None and event_id <= sent:
            continue  # already in the replay
        yield event_id, text


async def _send_all(websocket: WebSocket, messages: AsyncIterator[tuple[int | None, str]]) -> None:
    async for _, text in messages:
        await websocket.send_text(text)


async def _until_disconnect(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def _filter(caller: Caller, access: AccessPolicy) -> Callable[[Topic], bool]:
    scopes = {t: access.may_read(caller.role, s)
              for t, s in (("anomaly", "anomalies"), ("ticket", "tickets"),
                           ("ticket_event", "tickets"), ("part_warning", "parts"),
                           ("inspection_event", "maintenance"))}

    def accepts(topic: Topic) -> bool:
        return scopes.get(topic.type, False) and caller.sees(topic.customer)

    return accepts


def _still_valid(websocket: HTTPConnection, cookie_name: str, config: ConfigDep) -> bool:
    found = credentials_of(websocket, cookie_name=cookie_name)
    if found is None:
        return False
    with websocket.app.state.pool.connection() as conn:
        return caller_from_token(conn=conn, token=found[0], now=config.clock()) is not None


async def _until_session_ends(websocket: HTTPConnection, config: ConfigDep) -> None:
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
    websocket: WebSocket, hub: HubDep, relay: RelayDep, caller: CurrentUser, access: AccessDep,
    config: ConfigDep, last_event_id: LastEventId = None,
) -> None:
    await websocket.accept()
    with hub.subscribe(_filter(caller, access)) as sub:
        session = asyncio.create_task(_until_session_ends(websocket, config))
        tasks = [
            asyncio.create_task(_send_all(websocket, feed(sub, relay, last_event_id))),
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


@router.get("/stream/events", response_class=EventSourceResponse,
            dependencies=[require_read("tickets")],
            responses={200: {"description": "text/event-stream of StreamMessage, each with "
                                            "its id as the event id"}})
async def events(
    request: Request, hub: HubDep, relay: RelayDep, caller: CurrentUser, access: AccessDep,
    config: ConfigDep, last_event_id: Annotated[int | None, Header(
        alias="Last-Event-ID", ge=0, le=2**63 - 1,
        description="Sent by EventSource when it reconnects")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """The live stream as Server-Sent Events; ends like the WebSocket does (server shutting
    down, client too slow, session ended), and ``EventSource`` reconnects by itself."""
    with hub.subscribe(_filter(caller, access)) as sub:
        messages = feed(sub, relay, last_event_id)
        stop = [asyncio.create_task(sub.ended.wait()),
                asyncio.create_task(_until_session_ends(request, config))]
        try:
            while True:
                nxt = asyncio.ensure_future(anext(messages))
                await asyncio.wait([nxt, *stop], return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    nxt.cancel()
                    await asyncio.gather(nxt, return_exceptions=True)
                    return
                event_id, text = nxt.result()
                yield ServerSentEvent(raw_data=text,
                                      id=None if event_id is None else str(event_id))
        finally:
            for t in stop:
                t.cancel()
            await asyncio.gather(*stop, return_exceptions=True)
            await messages.aclose()
