"""What the console's pages need beside the resources: the policy's SLA warning share, and
the events the caller may post on one ticket now (people's names: ``GET /engineers``,
api/routers/directory.py).

The event list is the intersection the API itself enforces when an event is posted: the
lifecycle (events leading anywhere from the ticket's state) and the access policy (the
caller's role and reach, ``api.auth.authorize_event``). The ticket page shows a button for
each, and no other.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict

from api.auth import authorize_event, require_read
from api.auth.problems import not_found
from api.deps import AccessDep, ConnDep, CurrentUser, PolicyDep
from api.params import RowId
from storage.tickets import get_ticket
from ticketing.errors import EventRefused, MissingDetail
from ticketing.lifecycle import EVENTS, check_event

__all__ = ["router"]

router = APIRouter(tags=["console"])


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ConsoleSettings(_Out):
    warn_share: float
    policy: str


class AllowedEvents(_Out):
    ticket_id: int
    state: str
    version: int
    events: list[str]


@router.get("/console/settings")
def settings(caller: CurrentUser, policy: PolicyDep) -> ConsoleSettings:
    return ConsoleSettings(warn_share=policy.timers.warn_share, policy=policy.label)


def _possible(state: str, event: str) -> bool:
    try:
        check_event(state=state, event=event)
    except MissingDetail:
        return True  # the move exists; the form asks for what it needs
    except EventRefused:
        return False
    return True


@router.get("/tickets/{ticket_id}/allowed-events", dependencies=[require_read("tickets")],
            responses={404: {"description": "No such ticket (or not yours to see)"}})
def allowed_events(caller: CurrentUser, access: AccessDep, conn: ConnDep,
                   ticket_id: RowId) -> AllowedEvents:
    row = get_ticket(conn=conn, ticket_id=ticket_id)
    if row is None or not caller.sees(row.customer):
        raise not_found(f"ticket {ticket_id} not found")
    allowed = []
    for event in EVENTS:
        if not _possible(row.state, event):
            continue
        try:
            authorize_event(caller=caller, access=access, event=event, ticket_id=ticket_id,
                            ticket_customer=row.customer, ticket_assignee=row.assignee)
        except HTTPException:
            continue
        allowed.append(event)
    return AllowedEvents(ticket_id=row.id, state=row.state, version=row.version, events=allowed)
