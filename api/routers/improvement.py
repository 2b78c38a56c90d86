"""The improvement loop (docs/after-sales.md): a ticket's root-cause report
(``/api/v1/tickets/{id}/rca``), common problems and their CAPA (``/api/v1/common-problems``),
and quality-control draws with their checks (``/api/v1/qc/draws``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import require_action, require_read
from api.auth.problems import PROBLEM_JSON, not_found
from api.deps import ConnDep, CurrentUser, NowDep, PolicyDep
from api.feedback_schemas import (
    ProblemEventCreate,
    ProblemList,
    ProblemPublic,
    QcCheckCreate,
    QcDrawCreate,
    QcDrawPublic,
    RcaCreate,
    RcaPublic,
)
from api.params import RowId
from api.routers.feedback import refusal
from storage import improvement as istore
from storage.tickets import get_ticket
from ticketing.errors import EventRefused, MissingDetail, PolicyError, TicketNotFound
from ticketing.improvement import common, quality, rca

__all__ = ["rca_router", "problems", "qc"]

# A record that changed meanwhile, or an event its state does not allow (RFC 9457 body).
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Changed meanwhile, or not allowed in the record's state",
          "content": {PROBLEM_JSON: {}}},
}
rca_router = APIRouter(prefix="/tickets", tags=["rca"], responses=_CONFLICT)
problems = APIRouter(prefix="/common-problems", tags=["common-problems"], responses=_CONFLICT)
qc = APIRouter(prefix="/qc", tags=["qc"], responses=_CONFLICT)
_REFUSED = (EventRefused, MissingDetail, TicketNotFound, PolicyError)


@rca_router.get("/{ticket_id}/rca", response_model=RcaPublic,
                dependencies=[require_read("tickets")])
def read_rca(caller: CurrentUser, conn: ConnDep, ticket_id: RowId) -> RcaPublic:
    t = get_ticket(conn=conn, ticket_id=ticket_id)
    report = istore.get_rca(conn=conn, ticket_id=ticket_id)
    if t is None or not caller.sees(t.customer) or report is None:
        raise not_found(f"ticket {ticket_id} owes no root-cause report")
    return RcaPublic.of(report)


@rca_router.post("/{ticket_id}/rca", response_model=RcaPublic,
                 dependencies=[require_action("rca_submit")])
def submit_rca(
    caller: CurrentUser, policy: PolicyDep, now: NowDep, conn: ConnDep, ticket_id: RowId,
    body: RcaCreate,
) -> RcaPublic | JSONResponse:
    """Submit the root-cause report a grade I/II or repeated fault owes."""
    try:
        report = rca.submit(conn=conn, ticket_id=ticket_id, category=body.category,
                            cause=body.cause, lessons=body.lessons, gaps=body.gaps,
                            actions=body.actions, actor=caller.name, now=now, policy=policy)
    except _REFUSED as exc:
        return refusal(conn, exc)
    return RcaPublic.of(report)


def _problem(conn: ConnDep, row: istore.CommonProblemRow) -> ProblemPublic:
    return ProblemPublic.of(row, istore.problem_tickets(conn=conn, problem_id=row.id))


@problems.get("", response_model=ProblemList, dependencies=[require_read("feedback")])
def list_problems(conn: ConnDep, state: str | None = None) -> ProblemList:
    rows = istore.list_problems(conn=conn, state=state)
    return ProblemList(data=[_problem(conn, r) for r in rows], count=len(rows))


@problems.post("/{problem_id}/events", response_model=ProblemPublic,
               dependencies=[require_action("problem_manage")])
def problem_event(
    caller: CurrentUser, policy: PolicyDep, now: NowDep, conn: ConnDep, problem_id: RowId,
    body: ProblemEventCreate,
) -> ProblemPublic | JSONResponse:
    """Record the CAPA, or the verification of its effect (verify / reject)."""
    try:
        row = common.act(conn=conn, problem_id=problem_id, event=body.event, actor=caller.name,
                         now=now, policy=policy, **body.details())
    except _REFUSED as exc:
        return refusal(conn, exc)
    return _problem(conn, row)


def _draw(conn: ConnDep, draw_id: int) -> QcDrawPublic:
    d = istore.get_draw(conn=conn, draw_id=draw_id)
    if d is None:
        raise not_found(f"no quality-control draw {draw_id}")
    return QcDrawPublic.of(d, istore.draw_checks(conn=conn, draw_id=draw_id))


@qc.post("/draws", status_code=201, response_model=QcDrawPublic,
         dependencies=[require_action("qc_manage")])
def draw(
    caller: CurrentUser, policy: PolicyDep, now: NowDep, conn: ConnDep, body: QcDrawCreate,
) -> QcDrawPublic | JSONResponse:
    """Draw the policy's share of the tickets resolved in ``[since, until)`` (seeded)."""
    try:
        d = quality.run_draw(conn=conn, since=body.since, until=body.until, seed=body.seed,
                             actor=caller.name, now=now, policy=policy)
    except _REFUSED as exc:
        return refusal(conn, exc)
    return _draw(conn, d.id)


@qc.get("/draws/{draw_id}", response_model=QcDrawPublic, dependencies=[require_read("feedback")])
def read_draw(conn: ConnDep, draw_id: RowId) -> QcDrawPublic:
    return _draw(conn, draw_id)


@qc.post("/draws/{draw_id}/checks/{ticket_id}", response_model=QcDrawPublic,
         dependencies=[require_action("qc_manage")])
def check(
    caller: CurrentUser, now: NowDep, conn: ConnDep, draw_id: RowId, ticket_id: RowId,
    body: QcCheckCreate,
) -> QcDrawPublic | JSONResponse:
    """Record one drawn ticket's check, once."""
    try:
        quality.record_check(conn=conn, draw_id=draw_id, ticket_id=ticket_id,
                             result=body.result, note=body.note, actor=caller.name, now=now)
    except _REFUSED as exc:
        return refusal(conn, exc)
    return _draw(conn, draw_id)
