"""``/api/v1/maintenance``: the stored inspection work orders (why each is due, and why it was
moved; their parts reservation), their history, the calendar as iCalendar per engineer or
site, and the acts on one work order (start, complete, cancel).

Everything here needs the ``maintenance`` read scope and is limited to the customers the caller
sees; an act also needs the role's ``maintenance_<act>`` right (``access.toml``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import Field

from api.auth import require_read
from api.auth.problems import forbidden, not_found
from api.deps import AccessDep, ConnDep, CurrentUser, NowDep
from api.params import Limit, Offset, RowId
from api.schemas import (
    CODE_PATTERN,
    STATE_PATTERN,
    InspectionEventPublic,
    UtcDatetime,
    _Public,
)
from maintenance.errors import InspectionRefused, MaintenanceError, UnknownInspection
from maintenance.ical import entries_of_inspections, feed
from maintenance.orders import cancel, complete, start
from storage.maintenance import (
    InspectionRow,
    get_inspection,
    inspection_events,
    list_inspections,
)

router = APIRouter(prefix="/maintenance", tags=["maintenance"],
                   dependencies=[require_read("maintenance")])


class InspectionPublic(_Public):
    id: int
    robot: str
    customer: str
    site: str
    plan: str
    state: str
    due_at: UtcDatetime
    trigger: str
    reason: str
    # The health trend and RUL band that moved it earlier (condition trigger).
    condition: dict[str, Any] | None
    moved_from: UtcDatetime | None
    window_start: UtcDatetime | None
    window_end: UtcDatetime | None
    engineer: str | None
    parts: list[dict[str, Any]]
    results: dict[str, Any] | None
    findings: list[dict[str, Any]]
    anomaly_id: int | None
    escalated_at: UtcDatetime | None
    completed_at: UtcDatetime | None
    # The kit reserved in this warehouse (when), or the shortage that stopped it.
    parts_warehouse: str | None
    parts_reserved_at: UtcDatetime | None
    parts_shortage: str | None

    @classmethod
    def of(cls, r: InspectionRow) -> InspectionPublic:
        return cls(**{k: getattr(r, k) for k in cls.model_fields})


class InspectionsPublic(_Public):
    items: list[InspectionPublic]
    count: int


class InspectionDetail(InspectionPublic):
    events: list[InspectionEventPublic]


Code = Annotated[str | None, Query(pattern=CODE_PATTERN)]


@router.get("/inspections")
def list_(conn: ConnDep, caller: CurrentUser, limit: Limit = 100, offset: Offset = 0,
          open: Annotated[bool, Query(description="Only open work orders")] = False,
          state: Annotated[str | None, Query(pattern=STATE_PATTERN)] = None,
          robot: Code = None, customer: Code = None, site: Code = None,
          engineer: Code = None) -> InspectionsPublic:
    if not caller.may_list(customer):
        return InspectionsPublic(items=[], count=0)
    rows, count = list_inspections(conn=conn, open_only=open, state=state, robot=robot,
                                   customer=caller.customer_filter(customer), site=site,
                                   engineer=engineer, limit=limit, offset=offset)
    return InspectionsPublic(items=[InspectionPublic.of(r) for r in rows], count=count)


@router.get("/inspections/{inspection_id}",
            responses={404: {"description": "No inspection with this id"}})
def read(conn: ConnDep, caller: CurrentUser, inspection_id: RowId) -> InspectionDetail:
    row = get_inspection(conn=conn, inspection_id=inspection_id)
    if row is None or not caller.sees(row.customer):
        raise HTTPException(status_code=404, detail=f"inspection {inspection_id} not found")
    return InspectionDetail(**InspectionPublic.of(row).model_dump(), events=[
        InspectionEventPublic.of(e)
        for e in inspection_events(conn=conn, inspection_id=inspection_id)])


@router.get("/calendar.ics", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}}})
def calendar(conn: ConnDep, caller: CurrentUser, now: NowDep, engineer: Code = None,
             site: Code = None, customer: Code = None) -> Response:
    """Open, placed work orders as iCalendar (RFC 5545), per engineer or customer site."""
    rows: list[InspectionRow] = []
    if caller.may_list(customer):
        rows, _ = list_inspections(conn=conn, open_only=True, engineer=engineer, site=site,
                                   customer=caller.customer_filter(customer), limit=1000)
    name = "robowatch maintenance" + "".join(f" {x}" for x in (engineer, site) if x)
    doc = feed(entries_of_inspections(rows), name=name, stamp=now)
    return Response(content=doc, media_type="text/calendar; charset=utf-8")


class InspectionAct(_Public):
    """One act on a work order: ``start``; ``complete`` with the checklist ``results`` (item ->
    ok / finding), ``findings`` (each a ``note``; ``corrective`` opens a ticket) and the
    ``counters`` read; ``cancel`` with its ``reason``."""

    event: Literal["start", "complete", "cancel"]
    reason: str | None = Field(default=None, max_length=2000)
    results: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    counters: dict[str, float] = Field(default_factory=dict)


@router.post("/inspections/{inspection_id}/events",
             responses={403: {"description": "The role may not do this act"},
                        404: {"description": "No inspection with this id"},
                        409: {"description": "Not allowed in the inspection's state"},
                        422: {"description": "A detail the act needs is missing"}})
def act(conn: ConnDep, caller: CurrentUser, access: AccessDep, now: NowDep,
        inspection_id: RowId, body: InspectionAct) -> InspectionDetail:
    """Start, complete or cancel a work order as the caller; the work order afterwards."""
    row = get_inspection(conn=conn, inspection_id=inspection_id)
    if row is None or not caller.sees(row.customer):
        raise not_found(f"inspection {inspection_id} not found")
    if not access.allows(caller.role, f"maintenance_{body.event}"):
        raise forbidden(f"role {caller.role!r} may not {body.event} inspections")
    try:
        if body.event == "start":
            start(conn=conn, inspection_id=row.id, actor=caller.name, now=now)
        elif body.event == "complete":
            complete(conn=conn, inspection_id=row.id, results=body.results or {},
                     findings=body.findings, counters=body.counters, actor=caller.name, now=now)
        else:
            cancel(conn=conn, inspection_id=row.id, reason=body.reason or "", actor=caller.name,
                   now=now)
    except UnknownInspection as exc:
        raise not_found(str(exc)) from exc
    except InspectionRefused as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    except MaintenanceError as exc:  # a missing detail
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return read(conn, caller, inspection_id)


__all__ = ["router", "InspectionPublic", "InspectionsPublic", "InspectionDetail",
           "InspectionEventPublic"]
