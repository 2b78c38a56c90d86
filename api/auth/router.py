"""``/api/v1/auth``: login, logout, who am I, password change; ``/api/v1/users`` and
``/api/v1/api-keys`` for administrators.

Login takes the OAuth 2.0 password form (``username``, ``password``; what Swagger UI's
Authorize button and most clients send) or the same fields as JSON. It answers a bearer
token and sets the console's session cookie: the same token, HttpOnly (scripts cannot read
it), SameSite=Strict (other sites' pages cannot make the browser send it) and Secure over
https. Failures are logged with the username and address, never the password.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import State

from api.auth.accounts import (
    MAX_PASSWORD,
    add_user,
    change_password,
    disable,
    new_api_key,
)
from api.auth.caller import Caller, get_current_user, require_action, require_read
from api.auth.crypto import (
    SESSION_PREFIX,
    hash_password,
    needs_rehash,
    new_secret,
    verify_password,
    waste_verify,
)
from api.auth.errors import AccountError
from api.auth.limits import login_wait
from api.auth.problems import not_found, problem_response
from api.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ApiKeysPublic,
    CallerPublic,
    PasswordChange,
    TokenPublic,
    UserCreate,
    UserPublic,
    UsersPublic,
)
from api.config import ApiConfig
from api.params import RowId
from storage.users import (
    get_user,
    issue_token,
    list_api_keys,
    list_users,
    record_login_failure,
    revoke_api_key,
    revoke_token,
    set_password_hash,
    user_credentials,
)

__all__ = ["auth", "users", "api_keys"]

log = logging.getLogger(__name__)

auth = APIRouter(prefix="/auth", tags=["auth"])
CallerDep = Annotated[Caller, Depends(get_current_user)]
_BAD_LOGIN = "wrong username or password"
_NO_STORE = {"Cache-Control": "no-store"}  # RFC 6749 5.1: token responses are not cached

_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {
        media: {"schema": {"type": "object", "required": ["username", "password"],
                           "properties": {"username": {"type": "string"},
                                          "password": {"type": "string", "format": "password"}}}}
        for media in ("application/x-www-form-urlencoded", "application/json")
    }},
}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _login_fields(request: Request) -> tuple[str, str] | None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype == "application/json":
            data = json.loads(await request.body())
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            data = dict(await request.form())
        else:
            return None
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    return username, password


def _cookie_secure(config: ApiConfig, request: Request) -> bool:
    return config.cookie_secure if config.cookie_secure is not None else (
        request.url.scheme == "https")


def _check_login(
    state: State, username: str, password: str, address: str
) -> tuple[Caller, str] | JSONResponse:
    """Runs in a worker thread: argon2 and the database both block."""
    config: ApiConfig = state.config
    now = config.clock()
    # Over-long names are refused like wrong ones, and stored cut short in the failure table.
    name = username.strip().lower()[:64]
    with state.pool.connection() as conn:
        wait = login_wait(conn=conn, config=config, username=name, address=address, now=now)
        if wait is not None:
            log.warning("login refused for %r from %s: too many failures; retry in %d s",
                        name, address, wait)
            return problem_response(429, f"too many failed logins; retry in {wait} s",
                                    headers={"Retry-After": str(wait)})
        creds = user_credentials(conn=conn, username=name)
        if creds is None or len(password) > MAX_PASSWORD:
            waste_verify(password[:MAX_PASSWORD])
            ok = False
        else:
            ok = verify_password(creds.password_hash, password) and not creds.disabled
        if creds is None or not ok:
            record_login_failure(conn=conn, username=name, address=address, at=now,
                                 forget_before=now - config.login_window)
            log.warning("login failed for %r from %s", name, address)
            return problem_response(401, _BAD_LOGIN,
                                    headers={"WWW-Authenticate": 'Bearer realm="robowatch"'})
        if needs_rehash(creds.password_hash):
            set_password_hash(conn=conn, user_id=creds.user_id,
                              password_hash=hash_password(password), at=now)
        token, hashed = new_secret(SESSION_PREFIX)
        expires_at = now + config.token_ttl
        token_id = issue_token(conn=conn, user_id=creds.user_id, token_hash=hashed,
                               created_at=now, expires_at=expires_at, client=address)
        user = get_user(conn=conn, username=name)
    if user is None:
        raise RuntimeError(f"user {name!r} vanished during login")
    log.info("login: %s (%s) from %s", user.username, user.role, address)
    return Caller(name=user.username, role=user.role, kind="session", customer=user.customer,
                  engineer=user.engineer, token_id=token_id, expires_at=expires_at), token


@auth.post(
    "/login", openapi_extra=_LOGIN_BODY, response_model=TokenPublic,
    responses={401: {"description": "Wrong username or password"},
               429: {"description": "Too many failed logins; see Retry-After"}},
)
async def login(request: Request) -> Response:
    fields = await _login_fields(request)
    if fields is None:
        # The body is not echoed: it may hold a password.
        return problem_response(422, "send username and password as a form or JSON object")
    config: ApiConfig = request.app.state.config
    outcome = await anyio.to_thread.run_sync(_check_login, request.app.state, *fields,
                                             _client(request))
    if isinstance(outcome, JSONResponse):
        return outcome
    caller, token = outcome
    if caller.expires_at is None:
        raise RuntimeError("a session without an expiry")
    ttl = int(config.token_ttl.total_seconds())
    body = TokenPublic(access_token=token, expires_in=ttl, expires_at=caller.expires_at,
                       username=caller.name, role=caller.role)
    response = JSONResponse(body.model_dump(mode="json"), headers=_NO_STORE)
    response.set_cookie(config.cookie_name, token, max_age=ttl, path="/", httponly=True,
                        samesite="strict", secure=_cookie_secure(config, request))
    return response


@auth.post("/logout", status_code=204, responses={401: {"description": "Not signed in"}})
def logout(caller: CallerDep, request: Request) -> Response:
    """Revoke this session's token (an API key is revoked by an administrator instead) and
    clear the cookie."""
    config: ApiConfig = request.app.state.config
    if caller.token_id is not None:
        with request.app.state.pool.connection() as conn:
            revoke_token(conn=conn, token_id=caller.token_id, at=config.clock())
        log.info("logout: %s", caller.name)
    response = Response(status_code=204)
    response.delete_cookie(config.cookie_name, path="/", httponly=True, samesite="strict",
                           secure=_cookie_secure(config, request))
    return response


@auth.get("/me")
def me(caller: CallerDep, request: Request) -> CallerPublic:
    rights = request.app.state.access.rights(caller.role)
    return CallerPublic(name=caller.name, kind=caller.kind, role=caller.role,
                        customer=caller.customer, engineer=caller.engineer,
                        expires_at=caller.expires_at, read=list(rights.read),
                        events=list(rights.events), tickets=rights.tickets,
                        alerts=list(rights.alerts))


def _change_own_password(state: State, caller: Caller, change: PasswordChange,
                         address: str) -> JSONResponse | None:
    config: ApiConfig = state.config
    now = config.clock()
    with state.pool.connection() as conn:
        wait = login_wait(conn=conn, config=config, username=caller.name, address=address,
                          now=now)
        if wait is not None:
            return problem_response(429, f"too many failed attempts; retry in {wait} s",
                                    headers={"Retry-After": str(wait)})
        creds = user_credentials(conn=conn, username=caller.name)
        current = change.current_password.get_secret_value()
        if creds is None or not verify_password(creds.password_hash, current):
            # Counted like a failed login: a stolen session must not become a way to guess
            # the password at full speed.
            record_login_failure(conn=conn, username=caller.name, address=address, at=now,
                                 forget_before=now - config.login_window)
            log.warning("password change refused for %r from %s: wrong current password",
                        caller.name, address)
            return problem_response(403, "the current password is wrong")
        try:
            change_password(conn=conn, username=caller.name,
                            password=change.new_password.get_secret_value(), at=now,
                            keep_token_id=caller.token_id)
        except AccountError as exc:
            return problem_response(422, str(exc))
    return None


@auth.post("/password", status_code=204,
           responses={403: {"description": "Wrong current password, or not a user session"}})
async def password(caller: CallerDep, change: PasswordChange, request: Request) -> Response:
    """Change your own password; your other sessions are revoked."""
    if caller.kind != "session":
        return problem_response(403, "an API key has no password")
    refused = await anyio.to_thread.run_sync(_change_own_password, request.app.state, caller,
                                             change, _client(request))
    return refused or Response(status_code=204)


def _pool_conn(request: Request) -> Any:
    return request.app.state.pool.connection()


users = APIRouter(prefix="/users", tags=["users"])


@users.get("", dependencies=[require_read("users")])
def list_(request: Request) -> UsersPublic:
    with _pool_conn(request) as conn:
        rows = list_users(conn=conn)
    return UsersPublic(items=[UserPublic.of(r) for r in rows], count=len(rows))


@users.post("", status_code=201, responses={409: {"description": "Refused (name taken, ...)"}})
def create(
    body: UserCreate, request: Request,
    caller: Annotated[Caller, require_action("manage_users")],
) -> UserPublic:
    config: ApiConfig = request.app.state.config
    try:
        with _pool_conn(request) as conn:
            row = add_user(conn=conn, username=body.username, role=body.role,
                           password=body.password.get_secret_value(), at=config.clock(),
                           display_name=body.display_name, customer=body.customer,
                           engineer=body.engineer)
    except AccountError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    log.info("user %s added by %s", row.username, caller.name)
    return UserPublic.of(row)


@users.post("/{username}/disable", responses={404: {"description": "No such user"}})
def disable_(
    username: str, request: Request,
    caller: Annotated[Caller, require_action("manage_users")],
) -> UserPublic:
    """Disable a user and revoke all its sessions at once."""
    config: ApiConfig = request.app.state.config
    try:
        with _pool_conn(request) as conn:
            row = disable(conn=conn, username=username, at=config.clock())
    except AccountError:
        raise not_found(f"user {username!r} not found") from None
    log.info("user %s disabled by %s", row.username, caller.name)
    return UserPublic.of(row)


api_keys = APIRouter(prefix="/api-keys", tags=["api-keys"])


@api_keys.get("", dependencies=[require_read("api_keys")])
def list_keys(request: Request) -> ApiKeysPublic:
    with _pool_conn(request) as conn:
        rows = list_api_keys(conn=conn)
    return ApiKeysPublic(items=[ApiKeyPublic.of(r) for r in rows], count=len(rows))


@api_keys.post("", status_code=201, responses={409: {"description": "Name taken, ..."}})
def create_key(
    body: ApiKeyCreate, request: Request,
    caller: Annotated[Caller, require_action("manage_api_keys")],
) -> ApiKeyCreated:
    """Create a key for a machine; the answer holds the key, shown this once."""
    config: ApiConfig = request.app.state.config
    try:
        with _pool_conn(request) as conn:
            key, row = new_api_key(conn=conn, name=body.name, role=body.role,
                                   at=config.clock(), customer=body.customer,
                                   created_by=caller.name if caller.kind == "session" else None)
    except AccountError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return ApiKeyCreated(**ApiKeyPublic.of(row).model_dump(), key=key)


@api_keys.delete("/{key_id}", status_code=204, responses={404: {"description": "No such key"}})
def revoke_key(
    key_id: RowId, request: Request,
    caller: Annotated[Caller, require_action("manage_api_keys")],
) -> Response:
    config: ApiConfig = request.app.state.config
    with _pool_conn(request) as conn:
        revoked = revoke_api_key(conn=conn, key_id=key_id, at=config.clock())
    if not revoked:
        raise not_found(f"API key {key_id} not found")
    log.info("API key %d revoked by %s", key_id, caller.name)
    return Response(status_code=204)
