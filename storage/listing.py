"""What every list query shares: optional filters, a whitelisted sort and one page with the
total count. Sort keys are looked up in a mapping of known keys, so nothing a client sends
reaches the SQL text; filter values always travel as parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from storage.connect import Conn
from storage.rows import fetch_all, fetch_one

__all__ = ["order_by", "where_all", "page", "contains"]


def order_by(sort: str, columns: Mapping[str, str], *, tiebreak: str) -> str:
    """``ORDER BY`` text for ``sort`` (``key`` or ``-key``) out of ``columns``; the
    ``tiebreak`` column keeps pages stable when the key has ties."""
    key = sort.removeprefix("-")
    if key not in columns:
        raise ValueError(f"unknown sort key {sort!r}; known: {', '.join(columns)}")
    direction = "DESC" if sort.startswith("-") else "ASC"
    return f"ORDER BY {columns[key]} {direction} NULLS LAST, {tiebreak}"


def where_all(conditions: Sequence[tuple[str, str, object]]) -> tuple[str, dict[str, Any]]:
    """``(name, SQL condition using %(name)s, value)`` triples ANDed into one condition and
    its parameters; a ``None`` value is no condition."""
    used = [(name, sql, value) for name, sql, value in conditions if value is not None]
    text = " AND ".join(sql for _, sql, _ in used) or "TRUE"
    return text, {name: value for name, _, value in used}


def page(
    conn: Conn, select: str, count: str, where: str, order: str, params: dict[str, Any],
    limit: int, offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of ``select`` and the total of ``count`` under the same condition."""
    rows = fetch_all(conn, f"{select} WHERE {where} {order} LIMIT %(limit)s OFFSET %(offset)s",
                     {**params, "limit": limit, "offset": offset})
    total = fetch_one(conn, f"{count} WHERE {where}", params)
    return rows, int(total["n"]) if total else 0


def contains(q: str | None) -> str | None:
    """An ILIKE pattern matching ``q`` anywhere, its wildcards taken literally."""
    if q is None:
        return None
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
