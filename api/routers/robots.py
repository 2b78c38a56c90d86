"""``/api/v1/robots``: the registered fleet."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from api.auth import require_read
from api.deps import ConnDep, CurrentUser, NowDep
from api.params import CodeFilter, Limit, Offset, TextFilter
from api.schemas import CODE_PATTERN, RobotPublic, RobotsPublic
from storage.fleet import get_robot, list_robots

__all__ = ["router"]

router = APIRouter(prefix="/robots", tags=["robots"], dependencies=[require_read("robots")])

# storage.fleet.ROBOT_SORTS, both directions.
RobotSort = Literal["code", "-code", "customer", "-customer", "site", "-site", "line", "-line",
                    "install_date", "-install_date", "warranty_end", "-warranty_end"]


@router.get("")
def list_(
    conn: ConnDep,
    caller: CurrentUser,
    now: NowDep,
    limit: Limit = 100,
    offset: Offset = 0,
    sort: Annotated[RobotSort, Query(description="Order; -key descending")] = "code",
    customer: Annotated[CodeFilter, Query(description="Customer code")] = None,
    site: Annotated[CodeFilter, Query(description="Site code")] = None,
    line: Annotated[CodeFilter, Query(description="Line code")] = None,
    q: Annotated[TextFilter, Query(description="Part of the robot's code or serial, or of its "
                                               "customer's code or name")] = None,
    under_warranty: Annotated[bool | None, Query(description="Warranty end today or later "
                                                             "(true), or past or unknown "
                                                             "(false)")] = None,
) -> RobotsPublic:
    if not caller.may_list(customer):
        return RobotsPublic(items=[], count=0)
    rows, count = list_robots(conn=conn, customer=caller.customer_filter(customer), site=site,
                              line=line, q=q, under_warranty=under_warranty, today=now.date(),
                              sort=sort, limit=limit, offset=offset)
    return RobotsPublic(items=[RobotPublic.of(r, today=now.date()) for r in rows],
                        count=count)


@router.get("/{code}", responses={404: {"description": "No robot with this code"}})
def read(
    conn: ConnDep, caller: CurrentUser, now: NowDep,
    code: Annotated[str, Path(pattern=CODE_PATTERN, description="Robot code, any case")],
) -> RobotPublic:
    row = get_robot(conn=conn, code=code)
    if row is None or not caller.sees(row.customer):
        raise HTTPException(status_code=404, detail=f"robot {code!r} not found")
    return RobotPublic.of(row, today=now.date())
