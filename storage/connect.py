"""Connections: the only way into the database for every other package.

Other packages never import the driver. They get a connection (``connect``, ``connect_async``,
``open_pool``), pass it as ``conn=`` to the query functions of ``storage``, and catch the two
errors named here:

    DatabaseError            anything the database refused or failed to do
     └── DatabaseUnavailable  the connection is gone or cannot be made (retry later)

``PoolTimeout`` is raised when no pooled connection could be lent in time; treat it as
``DatabaseUnavailable``.

The waits and reconnects use tenacity: capped exponential backoff with jitter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeAlias

import psycopg
import psycopg_pool
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

__all__ = [
    "Conn", "AsyncConn", "Pool", "DatabaseError", "DatabaseUnavailable", "PoolTimeout",
    "UnstorableValue",
    "connect", "connect_async", "open_pool", "usable", "Reconnecting", "ping",
    "wait_for_database", "first_line", "log_retry",
]

log = logging.getLogger(__name__)

Conn: TypeAlias = psycopg.Connection[Any]
AsyncConn: TypeAlias = psycopg.AsyncConnection[Any]
Pool: TypeAlias = psycopg_pool.ConnectionPool
DatabaseError = psycopg.Error
DatabaseUnavailable = psycopg.OperationalError
PoolTimeout = psycopg_pool.PoolTimeout
# A value the database cannot hold as given (a NUL character in text, a number out of range):
# the caller's input is at fault, not the database.
UnstorableValue = psycopg.DataError

# Long enough for a server under load to accept, short enough that a dead host is noticed
# before a supervisor's health check gives up on us.
CONNECT_TIMEOUT_S = 10


def first_line(exc: BaseException) -> str:
    """The first line of an error, for one-line log messages (driver errors span several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def log_retry(
    logger: logging.Logger, what: str, *, level: int = logging.WARNING
) -> Callable[[RetryCallState], None]:
    """A tenacity ``before_sleep`` hook: one line with the error and the wait before the next
    attempt (never a traceback: the error is expected and will be retried)."""

    def hook(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.log(level, "%s: %s; retry in %.1fs", what,
                   first_line(exc) if exc is not None else "failed", state.upcoming_sleep)

    return hook


def connect(conninfo: str, *, autocommit: bool = False) -> Conn:
    """A plain connection. With ``autocommit=False`` a ``with`` block is one transaction;
    with ``autocommit=True`` only ``conn.transaction()`` blocks group statements."""
    return psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)


async def connect_async(conninfo: str, *, autocommit: bool = True) -> AsyncConn:
    """An asyncio connection (LISTEN, services that never block the event loop)."""
    return await psycopg.AsyncConnection.connect(
        conninfo, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)


def open_pool(
    conninfo: str, *, name: str, min_size: int, max_size: int, timeout: float,
    wait: bool = False,
) -> Pool:
    """A connection pool, opened. Without ``wait`` it opens even while the database is down
    and keeps connecting in the background, so a service can start and report 503."""
    pool = psycopg_pool.ConnectionPool(
        conninfo, min_size=min_size, max_size=max_size, timeout=timeout, open=False, name=name,
        kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    pool.open(wait=wait)
    return pool


def usable(conn: Conn | None) -> bool:
    """False once the connection is closed or lost: the caller should open a new one."""
    return conn is not None and not (conn.closed or conn.broken)


class Reconnecting:
    """One worker's connection, opened on first use and opened again after it was lost.

    For a worker that runs in one thread at a time (the services' database sides): ``get``
    returns a usable connection, ``close`` drops it. Not thread-safe by design."""

    def __init__(self, conninfo: str, *, autocommit: bool = True) -> None:
        self._conninfo = conninfo
        self._autocommit = autocommit
        self._conn: Conn | None = None

    def get(self) -> Conn:
        conn = self._conn
        if conn is None or not usable(conn):
            self.close()
            conn = self._conn = connect(self._conninfo, autocommit=self._autocommit)
        return conn

    @property
    def current(self) -> Conn | None:
        """The open connection, if any, without opening one."""
        return self._conn if usable(self._conn) else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def ping(*, conn: Conn) -> None:
    """One round trip; raises :data:`DatabaseUnavailable` when the database is gone."""
    conn.execute("SELECT 1").fetchone()


def wait_for_database(conninfo: str, *, timeout: float = 60.0) -> None:
    """Return once the database answers; raise ``TimeoutError`` after ``timeout`` seconds."""

    def attempt() -> None:
        with connect(conninfo) as conn:
            ping(conn=conn)

    retrying = Retrying(
        retry=retry_if_exception_type(DatabaseUnavailable),
        wait=wait_exponential_jitter(multiplier=0.1, jitter=0.1, max=2.0),
        stop=stop_after_delay(timeout),
        before_sleep=log_retry(log, "waiting for database", level=logging.INFO),
        reraise=True,
    )
    try:
        retrying(attempt)
    except DatabaseUnavailable as exc:
        raise TimeoutError(
            f"database not reachable after {timeout:.0f}s: {first_line(exc)}") from exc
