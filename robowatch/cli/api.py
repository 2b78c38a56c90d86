"""``robowatch api``: the REST API, the live stream and the web console under uvicorn.

One worker process serves one core's worth of Python (the GIL), so the API runs as several
uvicorn workers sharing the port (``--workers`` / ``api.workers``; unset: one per usable
CPU). Each worker builds its own app (pool, gate, live-stream relay) from the same settings:
the parent resolves the database (starting the embedded one and migrating it once) and hands
the URL to the workers through the environment they inherit.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from api import create_app
from robowatch.cli.context import settings_of
from robowatch.database import database
from robowatch.logs import setup_logging
from robowatch.settings import Settings

__all__ = ["api", "worker_app"]

_PARENT_ENV = "ROBOWATCH_API_PARENT_PID"


def _consume_replayed_signal(signum: int, frame: FrameType | None) -> None:
    """uvicorn handles SIGINT/SIGTERM itself (graceful shutdown), then raises the signal again
    under the handler that was there before it; this one takes it, so a clean stop exits 0."""


def _app(settings: Settings, url: str) -> FastAPI:
    return create_app(database_url=url, policy_file=settings.policy_file,
                      **settings.auth.api_options())


def _die_with_parent() -> None:
    # uvicorn's workers outlive a parent that is killed (SIGKILL after a stop timed out):
    # they would keep serving the port and holding database connections. Linux kills them
    # when the parent goes. SIGKILL, not SIGTERM: in bench ticketing two workers that had
    # not finished a graceful stop within the bench's 20 s were still running minutes after
    # their parent was killed, SIGTERM caught; the parent already gave up waiting for them.
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    # A parent that died before the line above (a worker being started or replaced at that
    # moment) sends nothing: check it is still the one that started us.
    parent = os.environ.get(_PARENT_ENV)
    if parent is not None and os.getppid() != int(parent):
        raise SystemExit("robowatch api: the parent process is gone")


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory): settings read as the parent read
    them, with the database URL and log level the parent put in the environment."""
    _die_with_parent()
    settings = Settings()
    setup_logging(settings.log_level, process=f"api[{os.getpid()}]")
    if not settings.database_url:
        raise RuntimeError("worker_app runs under `robowatch api`, which sets the database URL")
    return _app(settings, settings.database_url)


def api(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address [settings: api.host]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [settings: api.port]")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=64, help="Worker processes [settings: api.workers; unset: one per CPU]")
    ] = None,
) -> None:
    """Serve the API and the console (http://HOST:PORT/) until interrupted."""
    settings = settings_of(ctx)
    count = workers or settings.api.worker_count()
    with database(settings) as url:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _consume_replayed_signal)
        bind_host, bind_port = host or settings.api.host, port or settings.api.port
        if count == 1:
            # log_config=None: keep the process-wide logging set up by the root command.
            uvicorn.run(_app(settings, url), host=bind_host, port=bind_port, log_config=None,
                        lifespan="on", proxy_headers=False)
            return
        # The workers are spawned: they inherit the environment, not this process's objects.
        os.environ["ROBOWATCH_DATABASE_URL"] = url
        os.environ["ROBOWATCH_LOG_LEVEL"] = settings.log_level
        os.environ[_PARENT_ENV] = str(os.getpid())
        uvicorn.run("robowatch.cli.api:worker_app", factory=True, workers=count,
                    host=bind_host, port=bind_port, log_config=None, lifespan="on",
                    proxy_headers=False)
