"""``/api/v1/robots``: the registered fleet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.auth import require_read
from api.deps import ConnDep, CurrentUser
from api.params import Limit, Offset
from api.schemas import CODE_PATTERN, RobotPublic, RobotsPublic
from storage.fleet import get_robot, list_robots

router = APIRouter(prefix="/robots", tags=["robots"], dependencies=[require_read("robots")])


@router.get("")
def list_(
    conn: ConnDep,
    caller: CurrentUser,
    limit: Limit = 100,
    offset: Offset = 0,
    customer: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
) -> RobotsPublic:
    if not caller.may_list(customer):
        return RobotsPublic(items=[], count=0)
    rows, count = list_robots(conn=conn, customer=caller.customer_filter(customer), limit=limit,
                              offset=offset)
    return RobotsPublic(items=[RobotPublic.of(r) for r in rows], count=count)


@router.get("/{code}", responses={404: {"description": "No robot with this code"}})
def read(
    conn: ConnDep, caller: CurrentUser, code: Annotated[str, Path(pattern=CODE_PATTERN)]
) -> RobotPublic:
    row = get_robot(conn=conn, code=code)
    if row is None or not caller.sees(row.customer):
        raise HTTPException(status_code=404, detail=f"robot {code!r} not found")
    return RobotPublic.of(row)
