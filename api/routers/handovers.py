"""``/api/v1/handovers``: the shift handovers of the on-call roster (``ticketing.duty``).

At every shift change the ticketing service lists the open tickets of the people going off
duty (a ``handover`` history row on each); someone of the incoming shift takes them over with
``POST /api/v1/handovers/{id}/acknowledge`` (an ``acknowledge_handover`` row on each). An
engineer may acknowledge only a handover to their own shift; an O&M manager or dispatcher
may acknowledge for the shift. Handovers name tickets of several customers: a caller bound to
one customer sees none and acknowledges none.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import require_action, require_read
from api.auth.problems import forbidden, problem_response
from api.deps import ConnDep, CurrentUser, NowDep
from api.params import RowId
from storage.duty import HandoverRow, list_handovers
from ticketing.duty import acknowledge
from ticketing.errors import HandoverRefused

__all__ = ["router"]

router = APIRouter(prefix="/handovers", tags=["handovers"],
                   dependencies=[require_read("tickets")])


@router.get("")
def list_(
    conn: ConnDep, caller: CurrentUser,
    pending: Annotated[bool, Query(description="Only those nobody acknowledged yet")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[HandoverRow]:
    """Handovers that happened, newest first (none for a caller bound to a customer)."""
    if caller.customer is not None:
        return []
    return list_handovers(conn=conn, pending_only=pending, limit=limit)


@router.post("/{handover_id}/acknowledge", response_model=HandoverRow,
             dependencies=[require_action("acknowledge_handover")],
             responses={403: {"description": "Not of the incoming shift"},
                        404: {"description": "No such handover (or not fired yet)"},
                        409: {"description": "Acknowledged already"}})
def acknowledge_(
    conn: ConnDep, caller: CurrentUser, now: NowDep, handover_id: RowId,
) -> HandoverRow | JSONResponse:
    """Take over the open tickets the leaving shift handed over."""
    if caller.customer is not None:
        raise forbidden("handovers name tickets of several customers")
    # An engineer acknowledges for themself; an engineer account linked to nobody is nobody
    # of the incoming shift.
    engineer = (caller.engineer or "") if caller.role == "engineer" else None
    try:
        done = acknowledge(conn=conn, handover_id=handover_id, actor=caller.name,
                           engineer=engineer, now=now)
    except HandoverRefused as exc:
        conn.rollback()
        return problem_response(exc.status, str(exc))
    return done
