"""``robowatch api``: the REST API, the live stream and the web console under uvicorn."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from api import create_app
from robowatch.cli.context import settings_of
from robowatch.database import database


def _consume_replayed_signal(signum: int, frame: FrameType | None) -> None:
    """uvicorn handles SIGINT/SIGTERM itself (graceful shutdown), then raises the signal again
    under the handler that was there before it; this one takes it, so a clean stop exits 0."""


def api(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address [settings: api.host]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [settings: api.port]")] = None,
) -> None:
    """Serve the API and the console (http://HOST:PORT/) until interrupted."""
    settings = settings_of(ctx)
    with database(settings) as url:
        app = create_app(database_url=url, policy_file=settings.policy_file,
                         **settings.auth.api_options())
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _consume_replayed_signal)
        # log_config=None: keep the process-wide logging set up by the root command.
        uvicorn.run(app, host=host or settings.api.host, port=port or settings.api.port,
                    log_config=None, lifespan="on", proxy_headers=False)
