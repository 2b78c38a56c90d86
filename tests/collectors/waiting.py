"""Waiting for what a collector does in the background, without sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_for(pred: Callable[[], object], timeout: float = 15.0) -> bool:
    """Poll ``pred`` (a blocking check, e.g. a query) off the event loop until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(pred):
            return True
        await asyncio.sleep(0.05)
    return False


async def retry_until(step: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> bool:
    """Repeat ``step`` (which sends and waits for its effect) until it succeeds: for probing
    that a collector's subscription is live."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await step():
            return True
    return False
