"""Working a ticket: ``POST /api/v1/tickets`` (a customer's report taken by hand) and
``POST /api/v1/tickets/{ticket}/events`` (every step of its life), checked against the lifecycle
(``ticketing.events``) and the access policy (``api.auth.authorize_event``).

A person's event names the ticket version they saw (``expected_version`` in the body, or an
``If-Match: "<version>"`` header). Two people acting on one ticket at once cannot overwrite
each other: the later one gets 409 with the ticket's current ``state`` and ``version``. Every
answer carries the ticket's ``ETag``. Refusals are RFC 9457 problem details.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from api.auth import authorize_event, require_action
from api.auth.problems import PROBLEM_JSON, forbidden, not_found, problem_response
from api.deps import AccessDep, ConnDep, CurrentUser, NowDep, PolicyDep
from api.params import TicketRef
from api.routers.tickets import resolve_ticket
from api.schemas import ManualTicketCreate, TicketDetail, TicketEventCreate
from storage.connect import Conn
from storage.fleet import get_robot
from storage.tickets import get_ticket, ticket_events
from ticketing.errors import ConcurrentChange, EventRefused, MissingDetail, TicketNotFound
from ticketing.events import apply, create_manual_ticket

__all__ = ["router", "expected_version"]

router = APIRouter(prefix="/tickets", tags=["tickets"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such ticket (or not yours to see)"},
    409: {"description": "Changed meanwhile (state and version in the body), or the event is "
                         "not allowed in its state", "content": {PROBLEM_JSON: {}}},
    422: {"description": "A detail the event needs is missing", "content": {PROBLEM_JSON: {}}},
    428: {"description": "No version named", "content": {PROBLEM_JSON: {}}},
}


def _answer(conn: Conn, ticket_id: int, now: Any, response: Response) -> TicketDetail:
    row = get_ticket(conn=conn, ticket_id=ticket_id)
    if row is None:
        raise not_found(f"ticket {ticket_id} not found")
    response.headers["ETag"] = f'"{row.version}"'
    return TicketDetail.of_history(row, ticket_events(conn=conn, ticket_id=ticket_id), now=now)


def expected_version(body_version: int | None, if_match: str | None) -> int | None:
    """The version a client says it saw: in the body, or as ``If-Match: "<version>"``."""
    if body_version is not None:
        return body_version
    tag = (if_match or "").removeprefix("W/").strip('"')
    return int(tag) if tag.isdigit() else None


@router.post("/{ticket}/events", responses=_PROBLEMS, response_model=TicketDetail)
def post_event(
    # The caller first: its lookup borrows and returns a pooled connection before the
    # handler's own is taken, so a request never holds two (two at once could starve the pool).
    caller: CurrentUser, access: AccessDep, policy: PolicyDep, now: NowDep, conn: ConnDep,
    ticket: TicketRef, body: TicketEventCreate, response: Response,
    if_match: Annotated[str | None, Header(description='"<version>" you saw')] = None,
) -> TicketDetail | JSONResponse:
    """Apply one event to the ticket (its id or number) as the caller; the ticket afterwards."""
    ticket_id = resolve_ticket(conn=conn, ref=ticket)
    row = get_ticket(conn=conn, ticket_id=ticket_id)
    if row is None:
        raise not_found(f"ticket {ticket_id} not found")
    authorize_event(caller=caller, access=access, event=body.event, ticket_id=ticket_id,
                    ticket_customer=row.customer, ticket_assignee=row.assignee)
    expected = expected_version(body.expected_version, if_match)
    if expected is None:
        return problem_response(428, "name the ticket version you saw: "
                        "expected_version in the body or an If-Match header",
                        state=row.state, version=row.version)
    try:
        apply(conn=conn, ticket_id=ticket_id, event=body.event, actor=caller.name,
              expected_version=expected, now=now, policy=policy, **body.details())
    except ConcurrentChange as exc:
        conn.rollback()
        return problem_response(409, str(exc), state=exc.state, version=exc.version)
    except EventRefused as exc:
        conn.rollback()
        return problem_response(409, str(exc), state=exc.state, version=row.version)
    except MissingDetail as exc:
        conn.rollback()
        return problem_response(422, str(exc))
    except TicketNotFound as exc:
        raise not_found(str(exc)) from exc
    return _answer(conn, ticket_id, now, response)


@router.post("", status_code=201, responses={404: {"description": "No such robot"}},
             response_model=TicketDetail,
             dependencies=[require_action("create")])
def create(
    caller: CurrentUser, policy: PolicyDep, now: NowDep, conn: ConnDep,
    body: ManualTicketCreate, response: Response,
) -> TicketDetail | JSONResponse:
    """Open a ticket from a customer's report, graded by the policy like automatic ones."""
    robot = get_robot(conn=conn, code=body.robot)
    if robot is None or not caller.sees(robot.customer):
        raise not_found(f"robot {body.robot} not found")
    if caller.customer is not None:
        raise forbidden("a customer viewer reports through customer service")
    try:
        ticket = create_manual_ticket(
            conn=conn, robot=body.robot, channel=body.channel, reporter=body.reporter,
            description=body.description, impact=body.impact, request=body.request,
            actor=caller.name, now=now, policy=policy)
    except MissingDetail as exc:
        conn.rollback()
        return problem_response(422, str(exc))
    response.headers["Location"] = f"/api/v1/tickets/{ticket.id}"
    return _answer(conn, ticket.id, now, response)
