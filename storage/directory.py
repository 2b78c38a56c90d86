"""The organisation around the robots, for lists: customers, sites, lines and engineers.

Each list takes keyword filters (``None``: any), one sort key out of the function's
``*_SORTS`` (``-key`` for descending; any other key is a ``ValueError``, so nothing a client
sends reaches the SQL text), ``limit`` and ``offset``, and returns the page with the total
count matching the filters. Codes are matched case-insensitively (``r-0001`` finds
``R-0001``); ``customer`` narrows every list to one customer's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.connect import Conn
from storage.listing import contains, order_by, page, where_all
from storage.rows import fetch_all

__all__ = ["CustomerRow", "SiteRow", "LineRow", "EngineerRow", "CUSTOMER_SORTS", "SITE_SORTS",
           "LINE_SORTS", "ENGINEER_SORTS", "list_customers", "list_sites",
           "list_lines", "list_engineers", "engineers_by_code"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRow:
    code: str
    name: str
    tier: str
    city: str | None
    sites: int
    robots: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteRow:
    code: str
    name: str
    city: str | None
    timezone: str
    customer: str
    customer_name: str
    lines: int
    robots: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LineRow:
    code: str
    name: str
    site: str
    site_name: str
    customer: str
    robots: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineerRow:
    code: str
    name: str
    role: str
    city: str | None
    skills: list[str]
    on_duty: bool
    open_tickets: int


CUSTOMER_SORTS = {"code": "c.code", "name": "c.name", "tier": "c.tier", "city": "c.city"}
SITE_SORTS = {"code": "s.code", "name": "s.name", "city": "s.city", "customer": "c.code"}
LINE_SORTS = {"code": "l.code", "name": "l.name", "site": "s.code", "customer": "c.code"}
ENGINEER_SORTS = {"code": "e.code", "name": "e.name", "role": "e.role", "city": "e.city",
                  "open_tickets": "open_tickets"}


def list_customers(
    *, conn: Conn, customer: str | None = None, tier: str | None = None,
    city: str | None = None, q: str | None = None, sort: str = "code", limit: int = 100,
    offset: int = 0,
) -> tuple[list[CustomerRow], int]:
    """Customers with how many sites and robots each has; ``q`` searches code and name."""
    where, params = where_all([
        ("customer", "lower(c.code) = lower(%(customer)s)", customer),
        ("tier", "c.tier = %(tier)s", tier),
        ("city", "lower(c.city) = lower(%(city)s)", city),
        ("q", "(c.code ILIKE %(q)s OR c.name ILIKE %(q)s)", contains(q)),
    ])
    rows, n = page(conn, """
        SELECT c.code, c.name, c.tier, c.city,
               (SELECT count(*) FROM sites s WHERE s.customer_id = c.id) AS sites,
               (SELECT count(*) FROM robots r JOIN lines l ON l.id = r.line_id
                JOIN sites s ON s.id = l.site_id WHERE s.customer_id = c.id) AS robots
        FROM customers c""", "SELECT count(*) AS n FROM customers c", where,
        order_by(sort, CUSTOMER_SORTS, tiebreak="c.id"), params, limit, offset)
    return [CustomerRow(**r) for r in rows], n


_SITE_FROM = "FROM sites s JOIN customers c ON c.id = s.customer_id"


def list_sites(
    *, conn: Conn, customer: str | None = None, city: str | None = None,
    q: str | None = None, sort: str = "code", limit: int = 100, offset: int = 0,
) -> tuple[list[SiteRow], int]:
    """Sites with their customer and how many lines and robots each has."""
    where, params = where_all([
        ("customer", "lower(c.code) = lower(%(customer)s)", customer),
        ("city", "lower(s.city) = lower(%(city)s)", city),
        ("q", "(s.code ILIKE %(q)s OR s.name ILIKE %(q)s)", contains(q)),
    ])
    rows, n = page(conn, f"""
        SELECT s.code, s.name, s.city, s.timezone, c.code AS customer,
               c.name AS customer_name,
               (SELECT count(*) FROM lines l WHERE l.site_id = s.id) AS lines,
               (SELECT count(*) FROM robots r JOIN lines l ON l.id = r.line_id
                WHERE l.site_id = s.id) AS robots
        {_SITE_FROM}""", f"SELECT count(*) AS n {_SITE_FROM}", where,
        order_by(sort, SITE_SORTS, tiebreak="s.id"), params, limit, offset)
    return [SiteRow(**r) for r in rows], n


_LINE_FROM = ("FROM lines l JOIN sites s ON s.id = l.site_id "
              "JOIN customers c ON c.id = s.customer_id")


def list_lines(
    *, conn: Conn, customer: str | None = None, site: str | None = None,
    q: str | None = None, sort: str = "code", limit: int = 100, offset: int = 0,
) -> tuple[list[LineRow], int]:
    """Production lines with their site and customer and how many robots each has."""
    where, params = where_all([
        ("customer", "lower(c.code) = lower(%(customer)s)", customer),
        ("site", "lower(s.code) = lower(%(site)s)", site),
        ("q", "(l.code ILIKE %(q)s OR l.name ILIKE %(q)s)", contains(q)),
    ])
    rows, n = page(conn, f"""
        SELECT l.code, l.name, s.code AS site, s.name AS site_name, c.code AS customer,
               (SELECT count(*) FROM robots r WHERE r.line_id = l.id) AS robots
        {_LINE_FROM}""", f"SELECT count(*) AS n {_LINE_FROM}", where,
        order_by(sort, LINE_SORTS, tiebreak="l.id"), params, limit, offset)
    return [LineRow(**r) for r in rows], n


_ENGINEER_SELECT = """
    SELECT e.code, e.name, e.role, e.city, e.skills,
           e.code = ANY(%(on_duty)s::text[]) AS on_duty,
           (SELECT count(*) FROM tickets t
            WHERE t.assignee_id = e.id AND t.closed_at IS NULL) AS open_tickets
    FROM engineers e"""


def list_engineers(
    *, conn: Conn, customer: str | None = None, role: str | None = None,
    city: str | None = None, skill: str | None = None, codes: Sequence[str] | None = None,
    q: str | None = None, sort: str = "name", limit: int = 100, offset: int = 0,
    on_duty: Sequence[str] = (),
) -> tuple[list[EngineerRow], int]:
    """Engineers with their open ticket count; ``on_duty``: the codes the roster in force puts
    on duty now (ticketing.duty), flagged in the rows. ``customer``: only those who have worked that
    customer's tickets (what a customer-bound reader may see); ``codes``: only these."""
    where, params = where_all([
        ("customer", "EXISTS (SELECT 1 FROM tickets t JOIN customers c ON c.id = t.customer_id "
                     "WHERE t.assignee_id = e.id AND lower(c.code) = lower(%(customer)s))",
         customer),
        ("role", "e.role = %(role)s", role),
        ("city", "lower(e.city) = lower(%(city)s)", city),
        ("skill", "%(skill)s = ANY(e.skills)", skill),
        ("codes", "e.code = ANY(%(codes)s)", None if codes is None else list(codes)),
        ("q", "(e.code ILIKE %(q)s OR e.name ILIKE %(q)s)", contains(q)),
    ])
    params["on_duty"] = list(on_duty)
    rows, n = page(conn, _ENGINEER_SELECT, "SELECT count(*) AS n FROM engineers e", where,
                    order_by(sort, ENGINEER_SORTS, tiebreak="e.id"), params, limit, offset)
    return [EngineerRow(**r) for r in rows], n


def engineers_by_code(*, conn: Conn, codes: Sequence[str]) -> dict[str, EngineerRow]:
    """The engineers named by ``codes`` (unknown codes are absent)."""
    rows = fetch_all(conn, f"{_ENGINEER_SELECT} WHERE e.code = ANY(%s)", (list(codes),))
    return {r["code"]: EngineerRow(**r) for r in rows}
