"""Callback surveys of completed tickets (docs/after-sales.md).

Customer service (action ``callback``) records a survey it took by phone
(``POST /api/v1/tickets/{id}/callback``) or issues the customer's link
(``POST /api/v1/tickets/{id}/callback/link``: the URL is shown once). The customer answers
through the link without signing in: ``GET /api/v1/survey/{token}`` says what is asked,
``POST /api/v1/survey/{token}`` records the answer, once; an unknown, used or expired link is
a 404, the same for all three.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse

from api.auth import require_action, require_read
from api.auth.problems import PROBLEM_JSON, not_found
from api.deps import ConnDep, CurrentUser, NowDep, PolicyDep
from api.feedback_schemas import CallbackAnswer, CallbackPublic, SurveyLink
from api.params import RowId
from api.routers.feedback import refusal
from storage import callbacks as cstore
from storage.connect import Conn
from storage.tickets import get_ticket
from ticketing.errors import EventRefused, LinkRefused, MissingDetail, PolicyError, TicketNotFound
from ticketing.feedback import callbacks

__all__ = ["router", "survey"]

# A record that changed meanwhile, or an event its state does not allow (RFC 9457 body).
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Changed meanwhile, or not allowed in the record's state",
          "content": {PROBLEM_JSON: {}}},
}
router = APIRouter(prefix="/tickets", tags=["callbacks"], responses=_CONFLICT)
survey = APIRouter(prefix="/survey", tags=["survey"], responses=_CONFLICT)

Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
_LINK_GONE = "this survey link is unknown, used or expired"


def _ticket_seen(conn: Conn, caller: Any, ticket_id: int) -> None:
    t = get_ticket(conn=conn, ticket_id=ticket_id)
    if t is None or not caller.sees(t.customer):
        raise not_found(f"ticket {ticket_id} not found")


@router.get("/{ticket_id}/callback", response_model=CallbackPublic,
            dependencies=[require_read("tickets")])
def read(caller: CurrentUser, conn: ConnDep, ticket_id: RowId) -> CallbackPublic:
    _ticket_seen(conn, caller, ticket_id)
    cb = cstore.get_callback(conn=conn, ticket_id=ticket_id)
    if cb is None:
        raise not_found(f"ticket {ticket_id} has no callback survey")
    return CallbackPublic.of(cb)


@router.post("/{ticket_id}/callback", response_model=CallbackPublic,
             dependencies=[require_action("callback")])
def record(
    caller: CurrentUser, policy: PolicyDep, now: NowDep, conn: ConnDep, ticket_id: RowId,
    body: CallbackAnswer,
) -> CallbackPublic | JSONResponse:
    """Record the survey customer service took; a low score opens a follow-up feedback."""
    _ticket_seen(conn, caller, ticket_id)
    try:
        cb = callbacks.record(conn=conn, ticket_id=ticket_id, score=body.score,
                              suggestions=body.suggestions, actor=caller.name, now=now,
                              policy=policy)
    except (EventRefused, MissingDetail, TicketNotFound, PolicyError) as exc:
        return refusal(conn, exc)
    return CallbackPublic.of(cb)


@router.post("/{ticket_id}/callback/link", response_model=SurveyLink,
             dependencies=[require_action("callback")])
def link(
    caller: CurrentUser, policy: PolicyDep, now: NowDep, conn: ConnDep, ticket_id: RowId,
) -> SurveyLink | JSONResponse:
    """A new single-use link for the customer (earlier ones stop working)."""
    _ticket_seen(conn, caller, ticket_id)
    try:
        token = callbacks.issue_link(conn=conn, ticket_id=ticket_id, policy=policy, now=now)
    except (EventRefused, TicketNotFound, PolicyError) as exc:
        return refusal(conn, exc)
    cb = cstore.get_callback(conn=conn, ticket_id=ticket_id)
    assert cb is not None  # the link was just issued for it
    return SurveyLink(url=f"/api/v1/survey/{token}", expires_at=cb.link_expires_at)


@survey.get("/{token}")
def question(conn: ConnDep, now: NowDep, token: Token) -> dict[str, Any]:
    """What the customer is asked, while the link works."""
    cb = cstore.callback_by_token(conn=conn, token_hash=callbacks.token_digest(token))
    if cb is None or cb.recorded_at is not None or now >= cb.link_expires_at:
        raise not_found(_LINK_GONE)
    return {"ticket": cb.ticket, "question": "How satisfied are you with this service, from "
            "1 (poor) to 5 (excellent)? Any suggestions?", "scores": [1, 2, 3, 4, 5]}


@survey.post("/{token}", status_code=201, response_model=None)
def answer(
    conn: ConnDep, now: NowDep, policy: PolicyDep, token: Token, body: CallbackAnswer,
    response: Response,
) -> dict[str, str] | JSONResponse:
    """The customer's answer: recorded once."""
    try:
        callbacks.record_by_link(conn=conn, token=token, score=body.score,
                                 suggestions=body.suggestions, now=now, policy=policy)
    except LinkRefused as exc:
        conn.rollback()
        raise not_found(_LINK_GONE) from exc
    except (EventRefused, MissingDetail, PolicyError) as exc:
        return refusal(conn, exc)
    response.headers["Cache-Control"] = "no-store"
    return {"detail": "thank you"}
