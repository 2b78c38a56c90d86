"""Session advisory locks: one holder at a time for a named role (a sender, a timer pass),
released when the holder's connection ends, so a dead process frees its role."""

from __future__ import annotations

from storage.connect import Conn

__all__ = ["try_session_lock", "release_session_lock"]


def try_session_lock(*, conn: Conn, name: str) -> bool:
    """Take the lock ``name`` for this connection's session; False if another session has it."""
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,)).fetchone()
    return bool(row and row[0])


def release_session_lock(*, conn: Conn, name: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
