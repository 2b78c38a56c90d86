"""Run one long-lived asyncio service with clean shutdown on SIGINT / SIGTERM.

SIGUSR1 logs the stack of every asyncio task: the way to see what a running service is
waiting for without stopping it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import signal
from collections.abc import Awaitable, Callable

__all__ = ["run_service"]

log = logging.getLogger(__name__)


def _dump_tasks() -> None:
    out = io.StringIO()
    for task in asyncio.all_tasks():
        out.write(f"--- task {task.get_name()}\n")
        task.print_stack(limit=8, file=out)
    log.warning("asyncio tasks on SIGUSR1:\n%s", out.getvalue())


def run_service(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """``main(stop)`` runs until ``stop`` is set by a signal, then winds down by itself."""

    async def _runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
        await main(stop)

    asyncio.run(_runner())
