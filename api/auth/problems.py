"""RFC 9457 problem details for refusals: 401, 403, 404, 429 and every other HTTPException.

A refusal is raised as ``HTTPException`` (or one of the helpers below) anywhere, and the
app's handler renders it as ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``, keeping the exception's headers (``WWW-Authenticate``,
``Retry-After``). On a WebSocket handshake the same response is sent as the denial.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from fastapi import HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, Response

__all__ = ["PROBLEM_JSON", "problem_response", "http_problem_handler", "unauthorized",
           "forbidden", "not_found", "too_many"]

PROBLEM_JSON = "application/problem+json"
LOGIN_PAGE = "/console/login.html"
# A browser that opens a protected page without a session is sent to the login form; the
# status stays 401, so nothing but a browser treats the page as content.
_TO_LOGIN = (f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" '
             f'content="0; url={LOGIN_PAGE}"><title>Sign in</title>'
             f'<p><a href="{LOGIN_PAGE}">Sign in</a> to use the robowatch console.</p>')

# A bearer challenge names the realm; "invalid_token" (RFC 6750 section 3.1) tells a client
# that its token was refused rather than missing.
_REALM = 'Bearer realm="robowatch"'


def problem_response(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None,
    instance: str | None = None, **extensions: object,
) -> JSONResponse:
    """One problem document; ``extensions`` are RFC 9457 extension members (a ticket's
    current ``state`` and ``version`` on a 409, for instance)."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _browser_navigation(connection: HTTPConnection) -> bool:
    accept = connection.headers.get("accept", "")
    return (connection.scope["type"] == "http" and connection.scope.get("method") == "GET"
            and "text/html" in accept)


async def http_problem_handler(connection: HTTPConnection, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise TypeError(f"not an HTTPException: {exc!r}")
    if exc.status_code == 401 and _browser_navigation(connection):
        return HTMLResponse(_TO_LOGIN, status_code=401, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, detail, headers=exc.headers,
                            instance=connection.url.path)


def unauthorized(detail: str, *, token_given: bool = False) -> HTTPException:
    challenge = f'{_REALM}, error="invalid_token"' if token_given else _REALM
    return HTTPException(status_code=401, detail=detail,
                         headers={"WWW-Authenticate": challenge})


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status_code=403, detail=detail)


def not_found(detail: str) -> HTTPException:
    return HTTPException(status_code=404, detail=detail)


def too_many(detail: str, *, retry_after: int) -> HTTPException:
    return HTTPException(status_code=429, detail=detail,
                         headers={"Retry-After": str(max(1, retry_after))})
