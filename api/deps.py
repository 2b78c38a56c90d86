"""Dependencies every router shares, as ``Annotated`` aliases.

``ConnDep`` lends a pooled connection for the duration of the handler; the pool commits on a
clean exit and rolls back on an exception. ``CurrentUser`` is the single place where
authentication will go: today it admits everyone as ``anonymous``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from api.config import ApiConfig
from api.hub import Hub
from api.relay import Relay
from storage.connect import Conn, Pool

__all__ = ["User", "ConnDep", "CurrentUser", "HubDep", "RelayDep", "NowDep", "PoolDep",
           "ConfigDep", "get_current_user"]


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    name: str


async def get_current_user(connection: HTTPConnection) -> User:
    # HTTPConnection rather than Request: the same check guards the WebSocket stream.
    return User(name="anonymous")


def _pool(connection: HTTPConnection) -> Pool:
    pool: Pool = connection.app.state.pool
    return pool


def _conn(pool: Annotated[Pool, Depends(_pool)]) -> Iterator[Conn]:
    # A sync generator: FastAPI runs it in a worker thread, so waiting for a pooled
    # connection never blocks the event loop.
    with pool.connection() as conn:
        yield conn


def _hub(connection: HTTPConnection) -> Hub:
    hub: Hub = connection.app.state.hub
    return hub


def _relay(connection: HTTPConnection) -> Relay:
    relay: Relay = connection.app.state.relay
    return relay


def _config(connection: HTTPConnection) -> ApiConfig:
    config: ApiConfig = connection.app.state.config
    return config


def _now(config: Annotated[ApiConfig, Depends(_config)]) -> datetime:
    return config.clock()


CurrentUser = Annotated[User, Depends(get_current_user)]
PoolDep = Annotated[Pool, Depends(_pool)]
# scope="function": the connection goes back to the pool before the response is sent.
ConnDep = Annotated[Conn, Depends(_conn, scope="function")]
HubDep = Annotated[Hub, Depends(_hub)]
RelayDep = Annotated[Relay, Depends(_relay)]
NowDep = Annotated[datetime, Depends(_now)]
ConfigDep = Annotated[ApiConfig, Depends(_config)]
