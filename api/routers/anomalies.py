"""``/api/v1/anomalies``: what detection found, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.auth import require_read
from api.deps import ConnDep, CurrentUser
from api.params import Limit, Offset, RowId
from api.schemas import CODE_PATTERN, AnomaliesPublic, AnomalyPublic
from storage.anomalies import get_anomaly, list_anomalies

router = APIRouter(prefix="/anomalies", tags=["anomalies"],
                   dependencies=[require_read("anomalies")])


@router.get("")
def list_(
    conn: ConnDep,
    caller: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    robot: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Robot code")] = None,
    open: Annotated[bool, Query(description="Only anomalies still going on")] = False,
) -> AnomaliesPublic:
    rows, count = list_anomalies(conn=conn, robot=robot, customer=caller.customer,
                                 open_only=open, limit=limit, offset=offset)
    return AnomaliesPublic(items=[AnomalyPublic.of(r) for r in rows], count=count)


@router.get("/{anomaly_id}", responses={404: {"description": "No anomaly with this id"}})
def read(conn: ConnDep, caller: CurrentUser, anomaly_id: RowId) -> AnomalyPublic:
    row = get_anomaly(conn=conn, anomaly_id=anomaly_id)
    if row is None or not caller.sees(row.customer):
        raise HTTPException(status_code=404, detail=f"anomaly {anomaly_id} not found")
    return AnomalyPublic.of(row)
