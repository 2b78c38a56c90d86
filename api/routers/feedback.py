"""Customer feedback and complaints (docs/after-sales.md): ``POST /api/v1/feedback`` registers
one, ``POST /api/v1/feedback/{id}/events`` moves it through its life
(``ticketing.feedback.records``), ``GET`` reads them. Like tickets, an event names the version
it saw (``expected_version`` or ``If-Match``) and a change meanwhile answers 409; refusals are
RFC 9457 problem details. Deciding an extension is the customer-service head's
(``feedback_decide_extension``), every other event needs ``feedback_work``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from api.auth import require_action, require_read
from api.auth.problems import PROBLEM_JSON, forbidden, not_found, problem_response
from api.deps import AccessDep, ConnDep, CurrentUser, NowDep, PolicyDep
from api.feedback_schemas import (
    DECIDE_EXTENSION,
    FeedbackCreate,
    FeedbackDetail,
    FeedbackEventCreate,
    FeedbackList,
    FeedbackPublic,
)
from api.params import Limit, Offset, RowId
from api.routers.ticket_events import expected_version
from storage import feedback as fstore
from storage import timers as tstore
from storage.connect import Conn
from ticketing.errors import (
    ConcurrentChange,
    EventRefused,
    MissingDetail,
    PolicyError,
    TicketNotFound,
)
from ticketing.feedback.records import apply, register

__all__ = ["router", "refusal"]

# A record that changed meanwhile, or an event its state does not allow (RFC 9457 body).
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Changed meanwhile, or not allowed in the record's state",
          "content": {PROBLEM_JSON: {}}},
}
router = APIRouter(prefix="/feedback", tags=["feedback"], responses=_CONFLICT)

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such record (or not yours to see)"},
    409: {"description": "Changed meanwhile, or not allowed in its state",
          "content": {PROBLEM_JSON: {}}},
    422: {"description": "A detail is missing or unusable", "content": {PROBLEM_JSON: {}}},
    428: {"description": "No version named", "content": {PROBLEM_JSON: {}}},
}


def refusal(conn: Conn, exc: Exception) -> JSONResponse:
    """The problem document of an after-sales refusal (nothing was written: rolled back)."""
    conn.rollback()
    if isinstance(exc, ConcurrentChange):
        return problem_response(409, str(exc), state=exc.state, version=exc.version)
    if isinstance(exc, EventRefused):
        return problem_response(409, str(exc), state=exc.state)
    if isinstance(exc, TicketNotFound):
        return problem_response(404, str(exc))
    if isinstance(exc, PolicyError):
        return problem_response(501, str(exc))
    return problem_response(422, str(exc))


def _visible(conn: Conn, caller: Any, feedback_id: int) -> fstore.FeedbackRow:
    row = fstore.get_feedback(conn=conn, feedback_id=feedback_id)
    if row is None or not caller.sees(row.customer):
        raise not_found(f"feedback {feedback_id} not found")
    return row


def _detail(conn: Conn, row: fstore.FeedbackRow, response: Response) -> FeedbackDetail:
    response.headers["ETag"] = f'"{row.version}"'
    return FeedbackDetail.full(
        row, clocks=tstore.open_clocks(conn=conn, feedback_id=row.id),
        history=fstore.feedback_events(conn=conn, feedback_id=row.id),
        extensions=fstore.extensions_of(conn=conn, feedback_id=row.id))


@router.get("", response_model=FeedbackList, dependencies=[require_read("feedback")])
def list_(
    caller: CurrentUser, conn: ConnDep, limit: Limit = 100, offset: Offset = 0,
    kind: Annotated[str | None, Query(pattern="^(feedback|complaint)$")] = None,
    state: Annotated[str | None, Query(pattern=r"^[a-z]{1,32}$")] = None,
    customer: Annotated[str | None, Query(max_length=64)] = None,
) -> FeedbackList:
    """Feedback records and complaints, newest first."""
    if not caller.may_list(customer):
        return FeedbackList(data=[], count=0)
    rows, total = fstore.list_feedback(conn=conn, kind=kind, state=state,
                                       customer=caller.customer_filter(customer), limit=limit,
                                       offset=offset)
    return FeedbackList(data=[FeedbackPublic.of(r) for r in rows], count=total)


@router.get("/{feedback_id}", response_model=FeedbackDetail, responses=_PROBLEMS,
            dependencies=[require_read("feedback")])
def read(caller: CurrentUser, conn: ConnDep, feedback_id: RowId,
         response: Response) -> FeedbackDetail:
    """One record with its running clocks, history and extension requests."""
    return _detail(conn, _visible(conn, caller, feedback_id), response)


@router.post("", status_code=201, response_model=FeedbackDetail, responses=_PROBLEMS,
             dependencies=[require_action("feedback_register")])
def create(
    caller: CurrentUser, policy: PolicyDep, now: NowDep, conn: ConnDep, body: FeedbackCreate,
    response: Response,
) -> FeedbackDetail | JSONResponse:
    """Register a customer's feedback or complaint: numbered, routed by category, clocked by
    urgency (a complaint: respond, answer)."""
    if caller.customer is not None:
        raise forbidden("a customer viewer gives feedback through customer service")
    try:
        row = register(conn=conn, kind=body.kind, customer=body.customer,
                       category=body.category, urgency=body.urgency, channel=body.channel,
                       reporter=body.reporter, summary=body.summary,
                       received_at=body.received_at or now, now=now, actor=caller.name,
                       policy=policy, major=body.major, ticket_id=body.ticket)
    except (MissingDetail, PolicyError, EventRefused) as exc:
        return refusal(conn, exc)
    response.headers["Location"] = f"/api/v1/feedback/{row.id}"
    return _detail(conn, row, response)


@router.post("/{feedback_id}/events", response_model=FeedbackDetail, responses=_PROBLEMS)
def post_event(
    caller: CurrentUser, access: AccessDep, policy: PolicyDep, now: NowDep, conn: ConnDep,
    feedback_id: RowId, body: FeedbackEventCreate, response: Response,
    if_match: Annotated[str | None, Header(description='"<version>" you saw')] = None,
) -> FeedbackDetail | JSONResponse:
    """Apply one event to the record as the caller; the record afterwards."""
    row = _visible(conn, caller, feedback_id)
    action = ("feedback_decide_extension" if body.event in DECIDE_EXTENSION
              else "feedback_work")
    if not access.allows(caller.role, action):
        raise forbidden(f"role {caller.role!r} may not {body.event} feedback")
    expected = expected_version(body.expected_version, if_match)
    if expected is None:
        return problem_response(428, "name the version you saw: expected_version in the "
                                     "body or an If-Match header",
                                state=row.state, version=row.version)
    try:
        row = apply(conn=conn, feedback_id=feedback_id, event=body.event, actor=caller.name,
                    expected_version=expected, now=now, policy=policy, **body.details())
    except (ConcurrentChange, EventRefused, MissingDetail, TicketNotFound, PolicyError) as exc:
        return refusal(conn, exc)
    return _detail(conn, row, response)
