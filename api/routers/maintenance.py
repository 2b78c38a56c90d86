"""``/api/v1/maintenance``: the stored inspection work orders (why each is due, and why it was
moved), their history, and the calendar as iCalendar per engineer or site.

Inspections are work orders with the tickets' lifecycle habits, so they are read with the
``tickets`` scope and limited to the customers the caller sees.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from api.auth import require_read
from api.deps import ConnDep, CurrentUser, NowDep
from api.params import Limit, Offset, RowId
from api.schemas import CODE_PATTERN, STATE_PATTERN, UtcDatetime, _Public
from maintenance.ical import entries_of_inspections, feed
from storage.maintenance import (
    InspectionEventRow,
    InspectionRow,
    get_inspection,
    inspection_events,
    list_inspections,
)

router = APIRouter(prefix="/maintenance", tags=["maintenance"],
                   dependencies=[require_read("tickets")])


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

    @classmethod
    def of(cls, r: InspectionRow) -> InspectionPublic:
        return cls(**{k: getattr(r, k) for k in cls.model_fields})


class InspectionsPublic(_Public):
    items: list[InspectionPublic]
    count: int


class InspectionEventPublic(_Public):
    event: str
    from_state: str | None
    to_state: str
    actor: str
    at: UtcDatetime
    data: dict[str, Any]

    @classmethod
    def of(cls, e: InspectionEventRow) -> InspectionEventPublic:
        return cls(**{k: getattr(e, k) for k in cls.model_fields})


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


__all__ = ["router", "InspectionPublic", "InspectionsPublic", "InspectionDetail"]
