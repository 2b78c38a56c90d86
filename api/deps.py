"""Dependencies every router shares, as ``Annotated`` aliases.

``ConnDep`` lends a pooled connection for the duration of the handler; the pool commits on a
clean exit and rolls back on an exception. ``CurrentUser`` is the authenticated caller
(``api.auth``): a missing or refused credential is a 401 before the handler runs.
``AccessDep`` is the access policy the app was started with.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from api.admission import Admitted
from api.auth.caller import Caller, get_current_user
from api.config import ApiConfig
from api.hub import Hub
from api.relay import Relay
from storage.connect import Conn, Pool
from ticketing.access import AccessPolicy
from ticketing.policy import Policy

__all__ = ["Caller", "ConnDep", "CurrentUser", "HubDep", "RelayDep", "NowDep", "PoolDep",
           "ConfigDep", "AccessDep", "PolicyDep", "get_current_user"]


def _pool(connection: HTTPConnection) -> Pool:
    pool: Pool = connection.app.state.pool
    return pool


def _conn(
    pool: Annotated[Pool, Depends(_pool)], admitted: Annotated[None, Admitted]
) -> Iterator[Conn]:
    # A sync generator: FastAPI runs it in a worker thread, so waiting for a pooled
    # connection never blocks the event loop. Admitted first (api.admission): the wait for
    # a turn happens in the loop, so the thread hardly waits for the connection.
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


def _access(connection: HTTPConnection) -> AccessPolicy:
    access: AccessPolicy = connection.app.state.access
    return access


def _policy(connection: HTTPConnection) -> Policy:
    policy: Policy = connection.app.state.policy
    return policy


def _now(config: Annotated[ApiConfig, Depends(_config)]) -> datetime:
    return config.clock()


# HTTPConnection inside: the same check guards the WebSocket stream.
CurrentUser = Annotated[Caller, Depends(get_current_user)]
PoolDep = Annotated[Pool, Depends(_pool)]
# scope="function": the connection goes back to the pool before the response is sent.
ConnDep = Annotated[Conn, Depends(_conn, scope="function")]
HubDep = Annotated[Hub, Depends(_hub)]
RelayDep = Annotated[Relay, Depends(_relay)]
NowDep = Annotated[datetime, Depends(_now)]
ConfigDep = Annotated[ApiConfig, Depends(_config)]
AccessDep = Annotated[AccessPolicy, Depends(_access)]
PolicyDep = Annotated[Policy, Depends(_policy)]
