"""``/api/v1/tickets``: service tickets with their SLA status computed at read time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from api.auth import require_read
from api.deps import ConnDep, CurrentUser, NowDep
from api.params import Limit, Offset, RowId
from api.schemas import (
    CODE_PATTERN,
    STATE_PATTERN,
    Grade,
    TicketDetail,
    TicketPublic,
    TicketsPublic,
)
from storage.tickets import get_ticket, list_tickets, ticket_events

router = APIRouter(prefix="/tickets", tags=["tickets"], dependencies=[require_read("tickets")])


@router.get("")
def list_(
    conn: ConnDep,
    caller: CurrentUser,
    now: NowDep,
    limit: Limit = 100,
    offset: Offset = 0,
    open: Annotated[bool, Query(description="Only tickets not closed yet")] = False,
    state: Annotated[str | None, Query(pattern=STATE_PATTERN)] = None,
    robot: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Robot code")] = None,
    customer: Annotated[
        str | None, Query(pattern=CODE_PATTERN, description="Customer code")
    ] = None,
    grade: Grade | None = None,
) -> TicketsPublic:
    if not caller.may_list(customer):
        return TicketsPublic(items=[], count=0)
    rows, count = list_tickets(conn=conn, open_only=open, state=state, robot=robot,
                               customer=caller.customer_filter(customer), grade=grade,
                               limit=limit, offset=offset)
    return TicketsPublic(items=[TicketPublic.of(r, now=now) for r in rows], count=count)


@router.get("/{ticket_id}", responses={404: {"description": "No ticket with this id"}})
def read(conn: ConnDep, caller: CurrentUser, now: NowDep, ticket_id: RowId,
         response: Response) -> TicketDetail:
    row = get_ticket(conn=conn, ticket_id=ticket_id)
    if row is None or not caller.sees(row.customer):
        raise HTTPException(status_code=404, detail=f"ticket {ticket_id} not found")
    response.headers["ETag"] = f'"{row.version}"'
    return TicketDetail.of_history(row, ticket_events(conn=conn, ticket_id=ticket_id), now=now)
