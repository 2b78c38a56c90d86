"""Who is calling: a session token or API key, from the ``Authorization`` header or the
console's cookie, checked against the database on every request.

Every route but ``/healthz``, the login endpoint and the console's login page depends on
:func:`get_current_user` (a missing or refused credential is a 401 with
``WWW-Authenticate: Bearer``). The checks that follow go through the helpers here, never
through code copied into handlers: :func:`require_read` (a 403 unless the role may read the
scope), :meth:`Caller.sees` (a customer-bound caller gets a 404 for another customer's
rows, so it learns nothing about them) and :func:`authorize_event`.

Browsers send the cookie with the WebSocket handshake; other clients send the header. A
token in the query string is not accepted: it would end up in access logs and history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.requests import HTTPConnection

from api.admission import Admitted
from api.auth.crypto import KEY_PREFIX, digest
from api.auth.problems import forbidden, not_found, unauthorized
from api.config import ApiConfig
from storage.connect import Conn, Pool
from storage.users import api_key_of, session_of
from ticketing.access import AccessPolicy, Scope, ticket_in_reach

__all__ = ["Caller", "get_current_user", "require_read", "require_action", "authorize_event",
           "caller_from_token", "credentials_of"]

Via = Literal["header", "cookie"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """An authenticated user (``kind="session"``) or machine (``kind="api_key"``)."""

    name: str
    role: str
    kind: Literal["session", "api_key"]
    customer: str | None = None
    engineer: str | None = None
    token_id: int | None = None
    expires_at: datetime | None = None

    def sees(self, customer: str) -> bool:
        """May this caller see rows of ``customer``? Only its own when it is bound to one."""
        return self.customer is None or self.customer == customer

    def may_list(self, customer: str | None) -> bool:
        """Can a list filtered by ``customer`` (None: any) hold anything this caller sees?"""
        return self.customer is None or customer is None or customer == self.customer

    def customer_filter(self, customer: str | None) -> str | None:
        """The customer a list query must be narrowed to (after :meth:`may_list`)."""
        return self.customer or customer


def _state(connection: HTTPConnection) -> tuple[ApiConfig, Pool, AccessPolicy]:
    state = connection.app.state
    return state.config, state.pool, state.access


def credentials_of(connection: HTTPConnection, *, cookie_name: str) -> tuple[str, Via] | None:
    """The token a request carries: the bearer header wins over the cookie."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorized("use 'Authorization: Bearer <token>'", token_given=True)
        return value.strip(), "header"
    cookie = connection.cookies.get(cookie_name)
    return (cookie, "cookie") if cookie else None


def caller_from_token(*, conn: Conn, token: str, now: datetime) -> Caller | None:
    """The live session or API key a token stands for; None if refused for any reason."""
    hashed = digest(token)
    if token.startswith(KEY_PREFIX):
        key = api_key_of(conn=conn, key_hash=hashed)
        if key is None:
            return None
        return Caller(name=f"key:{key.name}", role=key.role, kind="api_key",
                      customer=key.customer)
    session = session_of(conn=conn, token_hash=hashed, now=now)
    if session is None:
        return None
    user = session.user
    return Caller(name=user.username, role=user.role, kind="session", customer=user.customer,
                  engineer=user.engineer, token_id=session.token_id,
                  expires_at=session.expires_at)


def _same_origin(connection: HTTPConnection) -> None:
    # Browsers send cookies with a cross-site WebSocket handshake where SameSite does not
    # stop them (older browsers, same-site subdomains); the Origin header tells.
    origin = connection.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != connection.headers.get("host"):
        raise forbidden("a stream authenticated by cookie must come from this site")


def get_current_user(
    connection: HTTPConnection, admitted: Annotated[None, Admitted] = None
) -> Caller:
    """The caller of this request or WebSocket; 401 when it has none or it was refused.

    A sync dependency: FastAPI runs it in a worker thread, so the lookup never blocks the
    event loop. It borrows a pooled connection only for the lookup, after the request was
    admitted (:mod:`api.admission`; a direct call, as the console's files make, is not).
    """
    config, pool, _ = _state(connection)
    found = credentials_of(connection, cookie_name=config.cookie_name)
    if found is None:
        raise unauthorized("sign in first: send a bearer token or the session cookie")
    token, via = found
    with pool.connection() as conn:
        caller = caller_from_token(conn=conn, token=token, now=config.clock())
    if caller is None:
        raise unauthorized("the token is invalid, expired or revoked", token_given=True)
    if via == "cookie" and connection.scope["type"] == "websocket":
        _same_origin(connection)
    return caller


def _admitting(test: Callable[[AccessPolicy, str], bool], refusal: str) -> Any:
    async def check(
        caller: Annotated[Caller, Depends(get_current_user)], connection: HTTPConnection
    ) -> Caller:
        _, _, access = _state(connection)
        if not test(access, caller.role):
            raise forbidden(f"role {caller.role!r} may not {refusal}")
        return caller

    return Depends(check)


def require_read(scope: Scope) -> Any:
    """A dependency (for ``dependencies=[...]`` or a parameter) that admits callers whose role
    may read ``scope`` and answers 403 to the others."""
    return _admitting(lambda access, role: access.may_read(role, scope), f"read {scope}")


def require_action(action: str) -> Any:
    """A dependency admitting callers whose role ``allows`` ``action``; 403 for the others."""
    return _admitting(lambda access, role: access.allows(role, action),
                      action.replace("_", " "))


def authorize_event(
    *, caller: Caller, access: AccessPolicy, event: str, ticket_id: int,
    ticket_customer: str, ticket_assignee: str | None,
) -> None:
    """May ``caller`` perform ``event`` on this ticket? 404 when the ticket is outside what it
    sees (as if it did not exist), 403 when its role or reach does not allow the event."""
    if not caller.sees(ticket_customer):
        raise not_found(f"ticket {ticket_id} not found")
    if not access.allows(caller.role, event):
        raise forbidden(f"role {caller.role!r} may not {event} tickets")
    if not ticket_in_reach(reach=access.reach(caller.role), ticket_assignee=ticket_assignee,
                           ticket_customer=ticket_customer, engineer=caller.engineer,
                           customer=caller.customer):
        raise forbidden(f"ticket {ticket_id} is not within your reach "
                        f"({access.reach(caller.role)})")
