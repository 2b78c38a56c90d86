"""``/api/v1/anomalies``: what detection found, newest first by default, and the alert wall's
shared acknowledgement (``POST /anomalies/{id}/acknowledge``, the ``alerts_acknowledge``
action): the first caller's name and time are stored on the anomaly, and the row's update
reaches every wall over the live stream (docs/console.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from api.auth import Caller, require_action, require_read
from api.deps import ConnDep, CurrentUser, NowDep
from api.params import CodeFilter, Limit, Offset, RowId, TicketQuery
from api.routers.tickets import resolve_ticket
from api.schemas import AnomaliesPublic, AnomalyPublic, Impact
from storage.anomalies import AnomalyRow, acknowledge_anomaly, get_anomaly, list_anomalies
from storage.connect import Conn

__all__ = ["router"]

router = APIRouter(prefix="/anomalies", tags=["anomalies"],
                   dependencies=[require_read("anomalies")])

# storage.anomalies.ANOMALY_SORTS, both directions.
AnomalySort = Literal["started_at", "-started_at", "created_at", "-created_at", "score",
                      "-score", "robot", "-robot", "impact", "-impact"]


@router.get("")
def list_(
    conn: ConnDep,
    caller: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    sort: Annotated[AnomalySort, Query(description="Order; -key descending")] = "-started_at",
    robot: Annotated[CodeFilter, Query(description="Robot code")] = None,
    customer: Annotated[CodeFilter, Query(description="Customer code")] = None,
    open: Annotated[bool, Query(description="Only anomalies still going on")] = False,
    impact: Impact | None = None,
    component: Annotated[CodeFilter, Query(description="Component, e.g. J3")] = None,
    kind: Annotated[CodeFilter, Query(description="Kind, e.g. overheating")] = None,
    ticket: TicketQuery = None,
) -> AnomaliesPublic:
    if not caller.may_list(customer):
        return AnomaliesPublic(items=[], count=0)
    ticket_id = None if ticket is None else resolve_ticket(conn=conn, ref=ticket)
    rows, count = list_anomalies(conn=conn, robot=robot, customer=caller.customer_filter(customer),
                                 open_only=open, impact=impact, component=component, kind=kind,
                                 ticket_id=ticket_id, sort=sort, limit=limit, offset=offset)
    return AnomaliesPublic(items=[AnomalyPublic.of(r) for r in rows], count=count)


def _not_found(anomaly_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=f"anomaly {anomaly_id} not found")


def _seen(conn: Conn, caller: Caller, anomaly_id: int) -> AnomalyRow:
    """The anomaly, if the caller may see it; 404 otherwise (another customer's is "none")."""
    row = get_anomaly(conn=conn, anomaly_id=anomaly_id)
    if row is None or not caller.sees(row.customer):
        raise _not_found(anomaly_id)
    return row


@router.get("/{anomaly_id}", responses={404: {"description": "No anomaly with this id"}})
def read(conn: ConnDep, caller: CurrentUser, anomaly_id: RowId) -> AnomalyPublic:
    return AnomalyPublic.of(_seen(conn, caller, anomaly_id))


@router.post("/{anomaly_id}/acknowledge", dependencies=[require_action("alerts_acknowledge")],
             responses={404: {"description": "No anomaly with this id"}})
def acknowledge(conn: ConnDep, caller: CurrentUser, now: NowDep,
                anomaly_id: RowId) -> AnomalyPublic:
    """Acknowledge the anomaly for every alert wall; the first acknowledgement stands."""
    _seen(conn, caller, anomaly_id)
    row = acknowledge_anomaly(conn=conn, anomaly_id=anomaly_id, by=caller.name, at=now)
    if row is None:  # anomalies are never deleted; kept for the type
        raise _not_found(anomaly_id)
    return AnomalyPublic.of(row)
