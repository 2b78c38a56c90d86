"""``/``: the console, a single page (``api/console/index.html`` and its ES modules under
``js/``) with pages for the alert wall, ticket board, ticket, robot and fleet (docs/console.md).

Third-party front-end code (uPlot) is not in the repository: ``make console`` installs the
pinned npm packages and copies their browser builds into ``api/console/vendor/`` (gitignored),
served here like the rest. Without that build the API still starts, logs how to build it once,
and the pages say it where a chart would be.

The pages and scripts need a signed-in caller like every other route; only the login page,
its script, the stylesheet and the message catalogues are public, so a browser without a
session can show the form in its language. A browser that navigates to a protected page
without a session gets the 401 as a small page that sends it to the login form
(``api.auth.problems``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope

from api.auth import get_current_user

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
VENDOR_DIR = CONSOLE_DIR / "vendor"
# What a browser without a session needs to show the login form; none of it holds data.
PUBLIC_FILES = frozenset({"login.html", "login.js", "console.css", "js/i18n.js",
                          "i18n/en.json", "i18n/zh-CN.json"})
# The build's tooling and inputs sit beside the pages but are not for browsers.
HIDDEN_PREFIXES = ("node_modules/", "package.json", "package-lock.json", "build.mjs")
_warned = False


def vendor_built() -> bool:
    return (VENDOR_DIR / "manifest.json").is_file()

router = APIRouter(tags=["console"], dependencies=[Depends(get_current_user)])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    global _warned
    if not _warned and not vendor_built():
        _warned = True
        log.warning("console: front-end packages not built (%s missing); charts stay empty "
                    "until `make console` is run", VENDOR_DIR)
    return FileResponse(CONSOLE_DIR / "index.html", media_type="text/html")


class ConsoleFiles(StaticFiles):
    """The console's files, each but :data:`PUBLIC_FILES` behind :func:`get_current_user`."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.startswith(HIDDEN_PREFIXES):
            return Response(status_code=404)
        if path not in PUBLIC_FILES:
            # Sync (a database lookup): off the event loop. Its 401 reaches the app's handler.
            await anyio.to_thread.run_sync(get_current_user, HTTPConnection(scope))
        return await super().get_response(path, scope)
