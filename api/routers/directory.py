"""The organisation around the robots, for the console's filters and fleet tree:
``/api/v1/customers``, ``/sites``, ``/lines``, ``/engineers`` and ``/oncall``.

Each list follows the list contract (``api.params``). A caller bound to a customer sees its
own customer, sites and lines only (another customer's code answers 404) and, among the
engineers, those who have worked its tickets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from api.auth import require_read
from api.deps import ConnDep, CurrentUser, NowDep
from api.params import CodeFilter, Limit, Offset, TextFilter
from api.schemas import (
    CODE_PATTERN,
    CustomerPublic,
    CustomersPublic,
    EngineerPublic,
    EngineersPublic,
    LinePublic,
    LinesPublic,
    OnCallPublic,
    SitePublic,
    SitesPublic,
    Tier,
)
from storage.directory import list_customers, list_engineers, list_lines, list_sites
from ticketing.duty import on_duty, roster_in_force

__all__ = ["fleet", "people"]

fleet = APIRouter(tags=["fleet"], dependencies=[require_read("robots")])
people = APIRouter(tags=["people"], dependencies=[require_read("tickets")])

CustomerSort = Literal["code", "-code", "name", "-name", "tier", "-tier", "city", "-city"]
SiteSort = Literal["code", "-code", "name", "-name", "city", "-city", "customer", "-customer"]
LineSort = Literal["code", "-code", "name", "-name", "site", "-site", "customer", "-customer"]
EngineerSort = Literal["name", "-name", "code", "-code", "role", "-role", "city", "-city",
                       "open_tickets", "-open_tickets"]
_ORDER = Query(description="Order; -key descending")


@fleet.get("/customers")
def customers(
    conn: ConnDep, caller: CurrentUser, limit: Limit = 100, offset: Offset = 0,
    sort: Annotated[CustomerSort, _ORDER] = "code", tier: Tier | None = None,
    city: Annotated[TextFilter, Query(description="City")] = None, q: TextFilter = None,
) -> CustomersPublic:
    rows, count = list_customers(conn=conn, customer=caller.customer, tier=tier, city=city, q=q,
                                 sort=sort, limit=limit, offset=offset)
    return CustomersPublic(items=[CustomerPublic.of(r) for r in rows], count=count)


@fleet.get("/customers/{code}", responses={404: {"description": "No customer with this code"}})
def customer(
    conn: ConnDep, caller: CurrentUser,
    code: Annotated[str, Path(pattern=CODE_PATTERN, description="Customer code, any case")],
) -> CustomerPublic:
    rows, _ = list_customers(conn=conn, customer=code, limit=1)
    if not rows or not caller.sees(rows[0].code):
        raise HTTPException(status_code=404, detail=f"customer {code!r} not found")
    return CustomerPublic.of(rows[0])


@fleet.get("/sites")
def sites(
    conn: ConnDep, caller: CurrentUser, limit: Limit = 100, offset: Offset = 0,
    sort: Annotated[SiteSort, _ORDER] = "code",
    customer: Annotated[CodeFilter, Query(description="Customer code")] = None,
    city: Annotated[TextFilter, Query(description="City")] = None, q: TextFilter = None,
) -> SitesPublic:
    if not caller.may_list(customer):
        return SitesPublic(items=[], count=0)
    rows, count = list_sites(conn=conn, customer=caller.customer_filter(customer), city=city,
                             q=q, sort=sort, limit=limit, offset=offset)
    return SitesPublic(items=[SitePublic.of(r) for r in rows], count=count)


@fleet.get("/lines")
def lines(
    conn: ConnDep, caller: CurrentUser, limit: Limit = 100, offset: Offset = 0,
    sort: Annotated[LineSort, _ORDER] = "code",
    customer: Annotated[CodeFilter, Query(description="Customer code")] = None,
    site: Annotated[CodeFilter, Query(description="Site code")] = None, q: TextFilter = None,
) -> LinesPublic:
    if not caller.may_list(customer):
        return LinesPublic(items=[], count=0)
    rows, count = list_lines(conn=conn, customer=caller.customer_filter(customer), site=site,
                             q=q, sort=sort, limit=limit, offset=offset)
    return LinesPublic(items=[LinePublic.of(r) for r in rows], count=count)


@people.get("/engineers")
def engineers(
    conn: ConnDep, caller: CurrentUser, now: NowDep, limit: Limit = 100, offset: Offset = 0,
    sort: Annotated[EngineerSort, _ORDER] = "name",
    role: Annotated[CodeFilter, Query(description="engineer, manager, ...")] = None,
    city: Annotated[TextFilter, Query(description="City")] = None,
    skill: Annotated[CodeFilter, Query(description="One skill the engineer has")] = None,
    q: TextFilter = None,
) -> EngineersPublic:
    rows, count = list_engineers(conn=conn, customer=caller.customer, role=role, city=city,
                                 skill=skill, q=q, sort=sort, limit=limit, offset=offset,
                                 on_duty=sorted(on_duty(conn=conn, at=now)))
    return EngineersPublic(items=[EngineerPublic.of(r) for r in rows], count=count)


@people.get("/oncall")
def oncall(
    conn: ConnDep, caller: CurrentUser, now: NowDep,
    limit: Limit = 100, offset: Offset = 0, sort: Annotated[EngineerSort, _ORDER] = "name",
    at: Annotated[datetime | None, Query(description="When (ISO 8601 with offset); "
                                                     "default now")] = None,
    role: Annotated[CodeFilter, Query(description="The roster team's role")] = None,
) -> OnCallPublic:
    """Who the roster puts on duty at ``at``, with names and open ticket counts."""
    when = now if at is None else at
    if when.utcoffset() is None:
        raise HTTPException(status_code=422, detail="at needs a UTC offset (Z or +08:00)")
    found = roster_in_force(conn=conn)  # the roster in force (ticketing.duty)
    if found is None:
        return OnCallPublic(at=when, roster=None, items=[], count=0)
    stored, roster = found
    name = stored.source
    try:
        codes = sorted(roster.on_duty(when, role=role))
    except (OverflowError, ValueError) as exc:  # a date at the calendar's ends
        raise HTTPException(status_code=422, detail=f"at: {exc}") from exc
    rows, count = list_engineers(conn=conn, customer=caller.customer, codes=codes, sort=sort,
                                 limit=limit, offset=offset, on_duty=codes)
    return OnCallPublic(at=when, roster=name, items=[EngineerPublic.of(r) for r in rows],
                        count=count)
