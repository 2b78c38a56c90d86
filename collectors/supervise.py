"""One supervisor per connection: its state, and reconnects with tenacity.

A transport hands :meth:`Supervisor.run` a *session*: a coroutine that connects, calls
:meth:`Supervisor.connected` once data can flow (subscriptions acknowledged), and returns
when the connection is lost or ``stop`` is set. The supervisor runs sessions until ``stop``:

- an error in ``retry_on`` (refused TCP connect, timeout, refused subscription) is retried
  with capped exponential backoff plus jitter (tenacity), sleeping no longer than ``stop``
  allows;
- a session that ends before it has been up ``healthy_s`` counts as a failed attempt too, so
  a connection that flaps (a broker that drops us right after the subscribe, two processes
  taking one client id from each other) backs off instead of spinning;
- after a healthy session the backoff starts over: the next connect is immediate;
- :class:`~collectors.errors.SourceRefused` (credentials refused) or any other error (a bug)
  ends the supervisor: the state becomes ``REFUSED`` or ``FAILED`` and the error propagates
  to whoever runs the transport.

States::

    CONNECTING -> CONNECTED -> (lost) -> CONNECTING ...
    CONNECTING -> BACKING_OFF -> CONNECTING ...
    any -> STOPPED | REFUSED | FAILED   (final)
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)

from collectors.errors import SourceRefused
from collectors.metrics import CollectorMetrics

__all__ = ["LinkState", "RetryPolicy", "RetryClock", "SessionEnded", "Supervisor",
           "sleep_or_stop", "until_first"]

log = logging.getLogger(__name__)


class LinkState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing_off"
    STOPPED = "stopped"
    REFUSED = "refused"   # the server refused our credentials: retrying cannot help
    FAILED = "failed"     # an unexpected error ended the supervisor (logged with traceback)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    # First retry after ~initial_s, doubling up to max_s; plus up to jitter_s of random delay
    # so a fleet of collectors does not reconnect in lockstep after a broker restart.
    initial_s: float = 0.5
    max_s: float = 30.0
    jitter_s: float = 0.5
    # A session shorter than this was not healthy: the backoff keeps growing across it.
    healthy_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.jitter_s < 0 or self.healthy_s < 0:
            raise ValueError("jitter_s and healthy_s must be >= 0")


def _wait(policy: RetryPolicy) -> Any:
    return wait_exponential(multiplier=policy.initial_s, max=policy.max_s) + wait_random(
        0, policy.jitter_s)


class RetryClock:
    """The delays of a retry that must not block its caller (the writer keeps spooling
    while the database is down): ``failed()`` gives the next delay by the policy's tenacity
    wait strategy, ``succeeded()`` starts over."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._wait = _wait(policy)
        self._state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
        self._state.attempt_number = 0

    def failed(self) -> float:
        self._state.attempt_number += 1
        return float(self._wait(self._state))

    def succeeded(self) -> None:
        self._state.attempt_number = 0


class SessionEnded(ConnectionError):
    """A session that ended before it was healthy; retried like a failed connect."""


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, returning early when ``stop`` is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def until_first(*tasks: asyncio.Task[Any]) -> None:
    """Wait for the first of ``tasks`` to end, then cancel the others and let them finish.
    Never raises their errors (read them from the tasks); our own cancellation propagates."""
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks)


class Supervisor:
    """Owns one connection's state and reconnects; see the module docstring."""

    def __init__(self, *, origin: str, policy: RetryPolicy,
                 retry_on: tuple[type[BaseException], ...], metrics: CollectorMetrics,
                 on_retry: Callable[[BaseException, float], None]) -> None:
        self.origin = origin
        self._policy = policy
        self._retry_on: tuple[type[BaseException], ...] = (*retry_on, SessionEnded)
        self._gauge = metrics.connected.labels(origin)
        self._on_retry = on_retry
        self._state = LinkState.CONNECTING
        self._up_since: float | None = None
        self.ever_connected = False
        self._gauge.set(0)

    @property
    def state(self) -> LinkState:
        return self._state

    def _set(self, state: LinkState) -> None:
        self._state = state
        self._gauge.set(1 if state is LinkState.CONNECTED else 0)

    def connected(self) -> None:
        """Called by the session once data flows (every subscription acknowledged)."""
        self._up_since = time.monotonic()
        self.ever_connected = True
        self._set(LinkState.CONNECTED)

    def disconnected(self) -> None:
        """Called by the session when the connection is lost (before its cleanup)."""
        if self._state is LinkState.CONNECTED:
            self._set(LinkState.CONNECTING)

    async def run(self, session: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self._until_healthy_session_ends(session, stop)
        except SourceRefused:
            self._set(LinkState.REFUSED)
            raise
        except asyncio.CancelledError:
            self._set(LinkState.STOPPED)
            raise
        except BaseException:
            self._set(LinkState.FAILED)
            raise
        self._set(LinkState.STOPPED)

    async def _until_healthy_session_ends(
        self, session: Callable[[], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        p = self._policy
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(self._retry_on),
            wait=_wait(p),
            stop=lambda _: stop.is_set(),
            sleep=lambda s: sleep_or_stop(stop, s),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if stop.is_set():
                        return
                    self._up_since = None
                    self._set(LinkState.CONNECTING)
                    await session()
                    up = None if self._up_since is None else time.monotonic() - self._up_since
                    if not stop.is_set() and (up is None or up < p.healthy_s):
                        raise SessionEnded(
                            "session ended before it was up" if up is None
                            else f"session ended after {up:.1f}s")
        except self._retry_on:
            if stop.is_set():
                return
            raise

    def _before_sleep(self, rs: RetryCallState) -> None:
        self._set(LinkState.BACKING_OFF)
        exc = rs.outcome.exception() if rs.outcome is not None else None
        delay = rs.next_action.sleep if rs.next_action is not None else 0.0
        if exc is not None:
            self._on_retry(exc, delay)
