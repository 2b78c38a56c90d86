"""``/``: the support engineers' wall screen, plain static files with no build step.

The page and its script need a signed-in caller like every other route; only the login
page, its script and the shared stylesheet are public, so a browser without a session can
reach the form. A browser that navigates to a protected page without a session gets the
401 as a small page that sends it to the login form (``api.auth.problems``).
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope

from api.auth import get_current_user

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
# What a browser without a session needs to show the login form; none of it holds data.
PUBLIC_FILES = frozenset({"login.html", "login.js", "console.css"})

router = APIRouter(tags=["console"], dependencies=[Depends(get_current_user)])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(CONSOLE_DIR / "index.html", media_type="text/html")


class ConsoleFiles(StaticFiles):
    """The console's files, each but :data:`PUBLIC_FILES` behind :func:`get_current_user`."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in PUBLIC_FILES:
            # Sync (a database lookup): off the event loop. Its 401 reaches the app's handler.
            await anyio.to_thread.run_sync(get_current_user, HTTPConnection(scope))
        return await super().get_response(path, scope)
