"""Rows as dicts, whatever ``row_factory`` the caller's connection was built with: the two
helpers the storage modules that read through dicts share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from psycopg.rows import dict_row

from storage.connect import Conn

__all__ = ["Params", "fetch_all", "fetch_one"]

Params: TypeAlias = Sequence[Any] | dict[str, Any]


def fetch_all(conn: Conn, sql: str, params: Params = ()) -> list[dict[str, Any]]:
    """Every row of ``sql`` (none for a statement without a result)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def fetch_one(conn: Conn, sql: str, params: Params = ()) -> dict[str, Any] | None:
    rows = fetch_all(conn, sql, params)
    return rows[0] if rows else None
