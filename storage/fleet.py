"""Customers, sites, lines, robots, signals and engineers: the registry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg

from storage.listing import contains, order_by, page, where_all

__all__ = [
    "CustomerSpec", "SiteSpec", "LineSpec", "RobotSpec", "EngineerSpec", "FleetSpec", "RobotRow",
    "register_fleet", "robot_ids", "robot_lines", "list_robots", "ROBOT_SORTS", "get_robot",
    "ensure_signals", "signal_ids", "SIGNAL_NAME_RE",
]

SIGNAL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotSpec:
    code: str
    brand: str | None = None
    model: str | None = None
    serial: str | None = None
    install_date: date | None = None
    warranty_end: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineSpec:
    code: str
    name: str
    robots: tuple[RobotSpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteSpec:
    code: str
    name: str
    city: str | None = None
    lines: tuple[LineSpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerSpec:
    code: str
    name: str
    tier: str
    city: str | None = None
    sites: tuple[SiteSpec, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineerSpec:
    code: str
    name: str
    role: str = "engineer"
    city: str | None = None
    skills: tuple[str, ...] = ()
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSpec:
    customers: tuple[CustomerSpec, ...] = ()
    engineers: tuple[EngineerSpec, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotRow:
    id: int
    code: str
    brand: str | None
    model: str | None
    serial: str | None
    install_date: date | None
    warranty_end: date | None
    line: str
    site: str
    city: str | None
    customer: str
    customer_name: str
    tier: str


def register_fleet(*, conn: psycopg.Connection, fleet: FleetSpec) -> dict[str, int]:
    """Insert or update every entity of ``fleet`` (matched by code); return robot code -> id.

    Idempotent: a second run with the same fleet changes nothing, so the demo can call it at
    every start and keep its data.
    """
    out: dict[str, int] = {}
    with conn.transaction():
        for c in fleet.customers:
            cid = conn.execute(
                """INSERT INTO customers (code, name, tier, city) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, tier = EXCLUDED.tier,
                       city = EXCLUDED.city
                   RETURNING id""",
                (c.code, c.name, c.tier, c.city),
            ).fetchone()[0]  # type: ignore[index]
            for s in c.sites:
                sid = conn.execute(
                    """INSERT INTO sites (customer_id, code, name, city) VALUES (%s, %s, %s, %s)
                       ON CONFLICT (customer_id, code) DO UPDATE SET name = EXCLUDED.name,
                           city = EXCLUDED.city
                       RETURNING id""",
                    (cid, s.code, s.name, s.city),
                ).fetchone()[0]  # type: ignore[index]
                for ln in s.lines:
                    lid = conn.execute(
                        """INSERT INTO lines (site_id, code, name) VALUES (%s, %s, %s)
                           ON CONFLICT (site_id, code) DO UPDATE SET name = EXCLUDED.name
                           RETURNING id""",
                        (sid, ln.code, ln.name),
                    ).fetchone()[0]  # type: ignore[index]
                    for r in ln.robots:
                        out[r.code] = conn.execute(
                            """INSERT INTO robots (code, line_id, brand, model, serial,
                                                   install_date, warranty_end)
                               VALUES (%s, %s, %s, %s, %s, %s, %s)
                               ON CONFLICT (code) DO UPDATE SET line_id = EXCLUDED.line_id,
                                   brand = EXCLUDED.brand, model = EXCLUDED.model,
                                   serial = EXCLUDED.serial,
                                   install_date = EXCLUDED.install_date,
                                   warranty_end = EXCLUDED.warranty_end
                               RETURNING id""",
                            (r.code, lid, r.brand, r.model, r.serial, r.install_date,
                             r.warranty_end),
                        ).fetchone()[0]  # type: ignore[index]
        for e in fleet.engineers:
            conn.execute(
                """INSERT INTO engineers (code, name, role, city, skills, email)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role,
                       city = EXCLUDED.city, skills = EXCLUDED.skills,
                       email = EXCLUDED.email""",
                (e.code, e.name, e.role, e.city, list(e.skills), e.email),
            )
    return out


def robot_lines(*, conn: psycopg.Connection) -> dict[int, tuple[str, int]]:
    """robot id -> (robot code, line id): what the detection engine needs per robot."""
    return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, code, line_id FROM robots")}


def robot_ids(*, conn: psycopg.Connection) -> dict[str, int]:
    return {code: rid for rid, code in conn.execute("SELECT id, code FROM robots").fetchall()}


def robot_ids_by_serial(*, conn: psycopg.Connection) -> dict[str, int]:
    """Serial number -> robot id: a controller names its robot by serial, not by our code."""
    return {serial: rid for rid, serial in conn.execute(
        "SELECT id, serial FROM robots WHERE serial IS NOT NULL").fetchall()}


_ROBOT_FROM = """
    FROM robots r
    JOIN lines l ON l.id = r.line_id
    JOIN sites s ON s.id = l.site_id
    JOIN customers c ON c.id = s.customer_id
"""
_ROBOT_SELECT = f"""
    SELECT r.id, r.code, r.brand, r.model, r.serial, r.install_date, r.warranty_end,
           l.code AS line, s.code AS site, s.city, c.code AS customer,
           c.name AS customer_name, c.tier
    {_ROBOT_FROM}"""


def _robot_row(row: Sequence[Any]) -> RobotRow:
    keys = RobotRow.__slots__
    fields: dict[str, Any] = dict(zip(keys, row, strict=True))
    return RobotRow(**fields)


ROBOT_SORTS = {"code": "r.code", "customer": "c.code", "site": "s.code", "line": "l.code",
               "install_date": "r.install_date", "warranty_end": "r.warranty_end"}


def list_robots(
    *, conn: psycopg.Connection, customer: str | None = None, site: str | None = None,
    line: str | None = None, q: str | None = None, under_warranty: bool | None = None,
    today: date | None = None, sort: str = "code", limit: int = 500, offset: int = 0,
) -> tuple[list[RobotRow], int]:
    """One page of robots and the total count matching the filters. Codes match
    case-insensitively; ``q`` searches the robot's code and serial and the customer's code and
    name; ``under_warranty`` compares ``warranty_end`` with ``today``; ``sort`` is a key of
    :data:`ROBOT_SORTS` (``-key`` descending)."""
    where, params = where_all([
        ("customer", "lower(c.code) = lower(%(customer)s)", customer),
        ("site", "lower(s.code) = lower(%(site)s)", site),
        ("line", "lower(l.code) = lower(%(line)s)", line),
        ("q", "(r.code ILIKE %(q)s OR r.serial ILIKE %(q)s OR c.code ILIKE %(q)s "
              "OR c.name ILIKE %(q)s)", contains(q)),
        ("today", "r.warranty_end >= %(today)s" if under_warranty
         else "(r.warranty_end IS NULL OR r.warranty_end < %(today)s)",
         None if under_warranty is None else today or date.today()),
    ])
    rows, total = page(conn, _ROBOT_SELECT, f"SELECT count(*) AS n {_ROBOT_FROM}",
                       where, order_by(sort, ROBOT_SORTS, tiebreak="r.id"), params, limit,
                       offset)
    return [RobotRow(**r) for r in rows], total


def get_robot(*, conn: psycopg.Connection, code: str) -> RobotRow | None:
    """The robot ``code``, matched case-insensitively (``r-0001`` finds ``R-0001``)."""
    row = conn.execute(f"{_ROBOT_SELECT} WHERE lower(r.code) = lower(%s)", (code,)).fetchone()
    return _robot_row(row) if row else None


def signal_ids(*, conn: psycopg.Connection) -> dict[str, int]:
    return {name: sid for sid, name in conn.execute("SELECT id, name FROM signals").fetchall()}


def ensure_signals(*, conn: psycopg.Connection, names: Iterable[str]) -> dict[str, int]:
    """Register the valid signal names not yet known; return the whole catalogue name -> id.

    Raises ``ValueError`` for a name outside ``SIGNAL_NAME_RE``: callers validate input first.
    """
    wanted = sorted(set(names))
    for n in wanted:
        if not SIGNAL_NAME_RE.match(n):
            raise ValueError(f"invalid signal name {n!r}")
    if wanted:
        with conn.transaction():
            conn.cursor().executemany(
                "INSERT INTO signals (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
                [(n,) for n in wanted],
            )
    return signal_ids(conn=conn)
