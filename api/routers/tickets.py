"""``/api/v1/tickets``: service tickets with their SLA status computed at read time."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from api.auth import require_read
from api.deps import ConnDep, CurrentUser, NowDep
from api.params import CodeFilter, Limit, Offset, TicketRef
from api.schemas import Grade, TicketDetail, TicketPublic, TicketsPublic, TicketState
from api.sla import by_urgency
from storage.connect import Conn
from storage.tickets import (
    TicketFilter,
    get_ticket,
    get_tickets,
    list_tickets,
    ticket_clocks,
    ticket_events,
    ticket_id_of,
)

__all__ = ["router", "TicketSort", "resolve_ticket"]

router = APIRouter(prefix="/tickets", tags=["tickets"], dependencies=[require_read("tickets")])

# storage.tickets.TICKET_SORTS plus "urgency" (breached first, then least time left, then
# grade), which is computed from the SLA state, not stored.
TicketSort = Literal["urgency", "created_at", "-created_at", "updated_at", "-updated_at",
                     "number", "-number", "grade", "-grade", "state", "-state", "respond_by",
                     "-respond_by", "resolve_by", "-resolve_by"]


def resolve_ticket(*, conn: Conn, ref: str) -> int:
    """The id of the ticket ``ref`` (an id or a number such as ``RW-20261202-0001``); 404 when
    there is none (whether the caller may see it is checked on the row)."""
    ticket_id = ticket_id_of(conn=conn, ref=ref)
    if ticket_id is None:
        raise HTTPException(status_code=404, detail=f"ticket {ref} not found")
    return ticket_id


@router.get("")
def list_(
    conn: ConnDep,
    caller: CurrentUser,
    now: NowDep,
    limit: Limit = 100,
    offset: Offset = 0,
    sort: Annotated[TicketSort, Query(description="Order; -key descending")] = "-created_at",
    open: Annotated[bool, Query(description="Only tickets not closed yet")] = False,
    state: TicketState | None = None,
    robot: Annotated[CodeFilter, Query(description="Robot code")] = None,
    customer: Annotated[CodeFilter, Query(description="Customer code")] = None,
    grade: Grade | None = None,
    assignee: Annotated[CodeFilter, Query(description="Engineer code")] = None,
    site: Annotated[CodeFilter, Query(description="Site code")] = None,
) -> TicketsPublic:
    if not caller.may_list(customer):
        return TicketsPublic(items=[], count=0)
    where = TicketFilter(open_only=open, state=state, robot=robot,
                         customer=caller.customer_filter(customer), grade=grade,
                         assignee=assignee, site=site)
    if sort == "urgency":
        # The order needs every matching ticket's clocks; only the page is read in full.
        order = by_urgency(ticket_clocks(conn=conn, where=where), now=now)
        rows, count = get_tickets(conn=conn, ids=order[offset:offset + limit]), len(order)
    else:
        rows, count = list_tickets(
            conn=conn, open_only=where.open_only, state=where.state, robot=where.robot,
            customer=where.customer, grade=where.grade, assignee=where.assignee,
            site=where.site, sort=sort, limit=limit, offset=offset)
    return TicketsPublic(items=[TicketPublic.of(r, now=now) for r in rows], count=count)


@router.get("/{ticket}", responses={404: {"description": "No ticket with this id or number"}})
def read(conn: ConnDep, caller: CurrentUser, now: NowDep, ticket: TicketRef,
         response: Response) -> TicketDetail:
    ticket_id = resolve_ticket(conn=conn, ref=ticket)
    row = get_ticket(conn=conn, ticket_id=ticket_id)
    if row is None or not caller.sees(row.customer):
        raise HTTPException(status_code=404, detail=f"ticket {ticket} not found")
    response.headers["ETag"] = f'"{row.version}"'
    return TicketDetail.of_history(row, ticket_events(conn=conn, ticket_id=ticket_id), now=now)
