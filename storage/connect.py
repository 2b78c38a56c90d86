"""Connections: a bounded wait for the database, sync and async pools."""

from __future__ import annotations

import logging
import time

import psycopg

__all__ = ["wait_for_database", "connect", "ping"]

log = logging.getLogger(__name__)


def wait_for_database(conninfo: str, *, timeout: float = 60.0) -> None:
    """Return once the database answers; raise ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            with psycopg.connect(conninfo, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"database not reachable after {timeout:.0f}s: {exc}") from exc
            log.info("waiting for database: %s", str(exc).strip().splitlines()[0])
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def ping(*, conn: psycopg.Connection) -> None:
    """One round trip; raises ``psycopg.OperationalError`` when the database is gone."""
    conn.execute("SELECT 1").fetchone()


def connect(conninfo: str, *, autocommit: bool = False) -> psycopg.Connection:
    """A plain connection: query functions in storage/ read rows as tuples."""
    return psycopg.connect(conninfo, autocommit=autocommit)
