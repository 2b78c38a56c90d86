"""``create_app``: the FastAPI application, its routers and its lifespan.

Nothing is built at import: the pool, the hub and the database listener are created when
the app starts and closed when it stops, so two apps (two tests) never share state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.admission import new_gate
from api.auth import get_current_user
from api.auth.problems import PROBLEM_JSON, http_problem_handler, problem_response
from api.auth.router import api_keys, auth, users
from api.config import ApiConfig
from api.console_policy import load_console_policy
from api.hub import Hub
from api.params import validation_problem
from api.relay import Relay
from api.routers import (
    anomalies,
    archive,
    callbacks,
    console,
    console_data,
    console_kpis,
    directory,
    feedback,
    fleet_tree,
    handovers,
    health,
    improvement,
    maintenance,
    parts,
    reports,
    robots,
    stream,
    telemetry,
    ticket_events,
    tickets,
)
from api.schemas import Problem
from parts.policy import load_policy as load_parts_policy
from storage.connect import (
    DatabaseUnavailable,
    PoolTimeout,
    UnstorableValue,
    first_line,
    open_pool,
)
from ticketing.access import load_access
from ticketing.policy import load_policy

__all__ = ["create_app"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# Swagger UI's files, from the pinned swagger-ui-bundle-v2 wheel: /docs works offline.
DOCS_ASSETS = "/docs/assets"

# Every operation may answer these as RFC 9457 problem documents; declared once, so that
# /openapi.json describes what clients (and schemathesis) really get.
_PROBLEM = {"model": Problem, "content": {PROBLEM_JSON: {}}}
_COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid caller", **_PROBLEM},
    403: {"description": "The caller's role may not", **_PROBLEM},
    404: {"description": "Not found (or not the caller's to see)", **_PROBLEM},
    422: {"description": "A malformed or out-of-range parameter or body", **_PROBLEM},
}


def _operation_id(route: APIRoute) -> str:
    # "tickets-list_" / "tickets-read": stable, readable names for generated clients.
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path,
                first_line(exc))
    return JSONResponse(status_code=503, content={"detail": "database unavailable"})


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    # Schema-valid input PostgreSQL cannot store (a NUL character in a string, a number out of
    # its column's range): the caller's to fix, so 422, logged once, never a 500.
    log.warning("%s %s: value refused by the database: %s", request.method, request.url.path,
                first_line(exc))
    return problem_response(422, f"a value cannot be stored: {first_line(exc)}")


def create_app(
    *,
    database_url: str,
    clock: Callable[[], datetime] | None = None,
    **options: Any,
) -> FastAPI:
    """Build the app for one database; ``options`` are :class:`api.config.ApiConfig` fields."""
    if clock is not None:
        options["clock"] = clock
    config = ApiConfig(database_url=database_url, **options)
    # Loaded (and validated) here, so a bad policy file stops the start, not a request.
    access = load_access(config.access_file)
    policy = load_policy(config.policy_file)
    parts_policy = load_parts_policy(config.parts_policy_file)
    console_policy = load_console_policy()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Without waiting: the app starts (and /healthz reports 503) while the database is
        # down, and the pool keeps reconnecting in the background.
        pool = open_pool(config.database_url, name="api", min_size=config.pool_min_size,
                         max_size=config.pool_max_size, timeout=config.pool_timeout)
        hub = Hub(queue_size=config.stream_queue_size)
        relay = Relay(conninfo=config.database_url, pool=pool, hub=hub, clock=config.clock,
                      heartbeat=config.stream_heartbeat, backoff_max=config.stream_backoff_max)
        app.state.config = config
        app.state.access = access
        app.state.policy = policy
        app.state.parts_policy = parts_policy
        app.state.console_policy = console_policy
        app.state.pool = pool
        # As many requests in the database at once as the pool has connections; the others
        # wait their turn in the event loop, holding no thread (api.admission).
        app.state.gate = new_gate(config.pool_max_size)
        app.state.hub = hub
        app.state.relay = relay
        listener = asyncio.create_task(relay.run(), name="api-stream-relay")
        try:
            yield
        finally:
            hub.close()
            listener.cancel()
            await asyncio.wait([listener])
            await anyio.to_thread.run_sync(pool.close)

    app = FastAPI(
        title="robowatch",
        summary="Robot fleet monitoring: robots, anomalies, service tickets, live stream.",
        version="1",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        responses=_COMMON_RESPONSES,
        # Served below behind get_current_user, like every route but /healthz and login.
        openapi_url=None, docs_url=None, redoc_url=None,
    )

    @app.get("/openapi.json", include_in_schema=False,
             dependencies=[Depends(get_current_user)])
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(get_current_user)])
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="robowatch API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    # Before console_data: its GET /engineers (names only) is served by directory's list,
    # which follows the list contract and carries the same fields.
    app.include_router(directory.fleet, prefix=API_PREFIX)
    app.include_router(directory.people, prefix=API_PREFIX)
    for resource in (robots, tickets, ticket_events, handovers, anomalies, stream, maintenance,
                     parts, telemetry, fleet_tree, console_data, console_kpis, archive, reports,
                     feedback, callbacks):
        app.include_router(resource.router, prefix=API_PREFIX)
    # After sales (docs/after-sales.md); the survey answers customers' links without a login.
    for router in (callbacks.survey, improvement.rca_router, improvement.problems,
                   improvement.qc):
        app.include_router(router, prefix=API_PREFIX)
    for router in (auth, users, api_keys):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(console.router)
    app.mount("/console", console.ConsoleFiles(directory=console.CONSOLE_DIR),
              name="console-static")
    app.add_exception_handler(StarletteHTTPException, http_problem_handler)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(UnstorableValue, _unstorable_value)
    return app
