"""Reconnect pacing shared by the transports: exponential, capped, with jitter."""

from __future__ import annotations

import asyncio
import random

__all__ = ["Backoff", "sleep_or_stop"]


class Backoff:
    def __init__(self, *, initial_s: float = 0.5, max_s: float = 30.0, jitter: float = 0.2) -> None:
        self._initial = initial_s
        self._max = max_s
        self._jitter = jitter
        self._next = initial_s

    def reset(self) -> None:
        self._next = self._initial

    def next_delay(self) -> float:
        """The delay to wait now; the following one doubles up to the cap."""
        d = self._next * random.uniform(1 - self._jitter, 1 + self._jitter)
        self._next = min(self._next * 2, self._max)
        return d


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, returning early when ``stop`` is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
