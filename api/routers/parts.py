"""``/api/v1/parts``: the catalogue, stock, low-stock warnings, the ledger, requisitions with
their history, transfers and serial numbers (``parts``; docs/parts.md).

Reading needs the ``parts`` read scope; each act needs its ``parts_<act>`` right in the access
policy. A customer-bound caller sees only its own customer's requisitions and the serials on
its own robots; stock, warnings, the ledger and the catalogue are company-internal (403).
A requisition for a ticket must also be within the caller's ticket reach (an engineer: the
tickets assigned to them). Refusals are RFC 9457 problem details: 404 unknown, 409 not allowed
in the state or not enough stock, 422 a missing or unusable detail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from starlette.requests import HTTPConnection

from api.auth import require_action, require_read
from api.auth.caller import Caller
from api.auth.problems import forbidden, not_found
from api.deps import AccessDep, ConnDep, CurrentUser, NowDep
from api.params import Limit, Offset, RowId
from api.parts_schemas import (
    CODE,
    SERIAL,
    CoverPublic,
    Done,
    InstallCreate,
    LedgerPublic,
    LedgerRowsPublic,
    PartCreate,
    PartPublic,
    PartsPublic,
    PurchaseCreate,
    ReceiptCreate,
    RequisitionCreate,
    RequisitionDetail,
    RequisitionEventCreate,
    RequisitionPublic,
    RequisitionsPublic,
    ScrapCreate,
    SerialTrace,
    StockPublic,
    StocksPublic,
    TransferCreate,
    WarningPublic,
    WarningsPublic,
)
from parts.errors import BadRequest, NotAllowed, OutOfStock, PartsError, UnknownItem
from parts.policy import PartsPolicy
from parts.requisitions import act, cover, request
from parts.stock import install, purchase, receive, scrap, transfer
from storage.connect import Conn
from storage.parts import (
    add_part,
    get_part,
    get_requisition,
    ledger,
    list_parts,
    list_requisitions,
    requisition_events,
    robot_warranty,
    serial_trace,
    stock_levels,
    stock_warnings,
    ticket_robot,
)
from ticketing.access import ticket_in_reach

__all__ = ["router"]

router = APIRouter(prefix="/parts", tags=["parts"], dependencies=[require_read("parts")])

T = TypeVar("T")

_STATUS: tuple[tuple[type[PartsError], int], ...] = (
    (UnknownItem, 404), (NotAllowed, 409), (OutOfStock, 409), (BadRequest, 422))
# Which right each requisition event needs (ticketing/policies/access.toml, key ``parts``).
_EVENT_RIGHT = {"approve": "approve", "reject": "approve", "cancel": "approve",
                "issue": "issue", "consume": "issue", "return_unused": "return"}


def _policy(connection: HTTPConnection) -> PartsPolicy:
    policy: PartsPolicy = connection.app.state.parts_policy
    return policy


PartsPolicyDep = Annotated[PartsPolicy, Depends(_policy)]


def _doing(work: Callable[[], T]) -> T:
    """Run one act of ``parts``; its refusals become problem details (the pooled connection
    rolls back on the way out)."""
    try:
        return work()
    except PartsError as exc:
        status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 500)
        raise HTTPException(status_code=status, detail=str(exc)) from exc


def _internal(caller: CurrentUser) -> None:
    if caller.customer is not None:
        raise forbidden("stock, the ledger and the catalogue are company-internal")


Internal = [Depends(_internal)]
PartCode = Annotated[str, Path(pattern=CODE)]
SerialCode = Annotated[str, Path(pattern=SERIAL)]


@router.get("/catalogue", dependencies=Internal)
def catalogue(conn: ConnDep) -> PartsPublic:
    rows = list_parts(conn=conn)
    return PartsPublic(items=[PartPublic.of(r) for r in rows], count=len(rows))


@router.post("/catalogue", status_code=201, dependencies=[require_action("parts_catalogue")],
             responses={409: {"description": "The code is taken"}})
def add_to_catalogue(now: NowDep, conn: ConnDep, body: PartCreate) -> PartPublic:
    if get_part(conn=conn, code=body.code) is not None:
        raise HTTPException(status_code=409, detail=f"part {body.code} is already catalogued")
    return PartPublic.of(add_part(conn=conn, code=body.code, name=body.name,
                                  unit_price=body.unit_price, origin=body.origin,
                                  serialised=body.serialised, at=now))


@router.get("/stock", dependencies=Internal)
def stock(
    conn: ConnDep,
    part: Annotated[str | None, Query(pattern=CODE)] = None,
    warehouse: Annotated[str | None, Query(pattern=CODE)] = None,
    low: Annotated[bool, Query(description="Only rows below their safety stock")] = False,
) -> StocksPublic:
    rows = stock_levels(conn=conn, part=part, warehouse=warehouse, low_only=low)
    return StocksPublic(items=[StockPublic.of(r) for r in rows], count=len(rows))


@router.get("/warnings", dependencies=Internal)
def warnings(
    conn: ConnDep,
    all: Annotated[bool, Query(description="Cleared warnings too")] = False,  # noqa: A002
) -> WarningsPublic:
    rows = stock_warnings(conn=conn, open_only=not all)
    return WarningsPublic(items=[WarningPublic.of(r) for r in rows], count=len(rows))


@router.get("/ledger", dependencies=Internal)
def ledger_rows(
    conn: ConnDep, limit: Limit = 1000,
    part: Annotated[str | None, Query(pattern=CODE)] = None,
    warehouse: Annotated[str | None, Query(pattern=CODE)] = None,
) -> LedgerRowsPublic:
    rows = ledger(conn=conn, part=part, warehouse=warehouse, limit=limit)
    return LedgerRowsPublic(items=[LedgerPublic.of(r) for r in rows], count=len(rows))


@router.post("/purchases", status_code=201, dependencies=[require_action("parts_receive")])
def add_purchase(caller: CurrentUser, now: NowDep, conn: ConnDep, body: PurchaseCreate) -> Done:
    return Done(ids=_doing(lambda: purchase(conn=conn, part=body.part, serials=body.serials,
                                            order=body.order, actor=caller.name, at=now)))


@router.post("/receipts", status_code=201, dependencies=[require_action("parts_receive")])
def add_receipt(caller: CurrentUser, now: NowDep, conn: ConnDep, body: ReceiptCreate) -> Done:
    return Done(ids=[_doing(lambda: receive(
        conn=conn, part=body.part, warehouse=body.warehouse, quantity=body.quantity,
        serials=body.serials, note=body.note, actor=caller.name, at=now))])


@router.post("/transfers", status_code=201, dependencies=[require_action("parts_transfer")])
def add_transfer(caller: CurrentUser, now: NowDep, conn: ConnDep, policy: PartsPolicyDep,
                 body: TransferCreate) -> Done:
    return Done(ids=[_doing(lambda: transfer(
        conn=conn, part=body.part, source=body.source, target=body.target,
        quantity=body.quantity, reason=body.reason, emergency=body.emergency,
        serials=body.serials, actor=caller.name, at=now, policy=policy))])


def _detail(conn: Conn, requisition_id: int) -> RequisitionDetail:
    row = get_requisition(conn=conn, requisition_id=requisition_id)
    if row is None:
        raise not_found(f"requisition {requisition_id} not found")
    return RequisitionDetail.of_history(
        row, requisition_events(conn=conn, requisition_id=requisition_id))


@router.get("/requisitions")
def requisitions(
    conn: ConnDep, caller: CurrentUser, limit: Limit = 100, offset: Offset = 0,
    customer: Annotated[str | None, Query(pattern=CODE)] = None,
    ticket_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    work_order: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=32)] = None,
) -> RequisitionsPublic:
    if not caller.may_list(customer):
        return RequisitionsPublic(items=[], count=0)
    rows, count = list_requisitions(conn=conn, customer=caller.customer_filter(customer),
                                    ticket_id=ticket_id, work_order=work_order, state=state,
                                    limit=limit, offset=offset)
    return RequisitionsPublic(items=[RequisitionPublic.of(r) for r in rows], count=count)


@router.get("/requisitions/{requisition_id}", responses={404: {"description": "Not found"}})
def read_requisition(conn: ConnDep, caller: CurrentUser,
                     requisition_id: RowId) -> RequisitionDetail:
    found = _detail(conn, requisition_id)
    if not caller.sees(found.customer):
        raise not_found(f"requisition {requisition_id} not found")
    return found


@router.post("/requisitions", status_code=201, dependencies=[require_action("parts_request")])
def add_requisition(
    caller: CurrentUser, access: AccessDep, now: NowDep, conn: ConnDep,
    policy: PartsPolicyDep, body: RequisitionCreate,
) -> RequisitionDetail:
    """Ask for parts for a ticket (within the caller's reach) or a work order."""
    if body.ticket_id is not None:
        owner = ticket_robot(conn=conn, ticket_id=body.ticket_id)
        if owner is None or not caller.sees(owner.customer):
            raise not_found(f"ticket {body.ticket_id} not found")
        reach = access.reach(caller.role)
        if not ticket_in_reach(reach=reach, ticket_assignee=owner.ticket_assignee,
                               ticket_customer=owner.customer, engineer=caller.engineer,
                               customer=caller.customer):
            raise forbidden(f"ticket {body.ticket_id} is not within your reach ({reach})")
    row = _doing(lambda: request(
        conn=conn, part=body.part, warehouse=body.warehouse, quantity=body.quantity,
        purpose=body.purpose, ticket_id=body.ticket_id, robot=body.robot,
        work_order=body.work_order, actor=caller.name, at=now, policy=policy))
    return _detail(conn, row.id)


@router.post("/requisitions/{requisition_id}/events",
             responses={404: {"description": "Not found"}, 409: {"description": "Refused"},
                        422: {"description": "A detail is missing"}})
def requisition_event(
    caller: CurrentUser, access: AccessDep, now: NowDep, conn: ConnDep,
    requisition_id: RowId, body: RequisitionEventCreate,
) -> RequisitionDetail:
    """Approve, reject, cancel, issue, consume or return the unused part of a requisition."""
    right = _EVENT_RIGHT[body.event]
    if not access.allows(caller.role, f"parts_{right}"):
        raise forbidden(f"role {caller.role!r} may not {body.event} requisitions")
    _doing(lambda: act(conn=conn, requisition_id=requisition_id, event=body.event,
                       reason=body.reason, quantity=body.quantity, serials=body.serials,
                       actor=caller.name, at=now))
    return _detail(conn, requisition_id)


def _trace(conn: Conn, caller: Caller, part: PartCode, serial: SerialCode) -> SerialTrace:
    found = serial_trace(conn=conn, part=part, serial=serial)
    if found is not None and caller.customer is not None:
        robot = robot_warranty(conn=conn, robot=found[0].robot) if found[0].robot else None
        found = found if robot is not None and caller.sees(robot.customer) else None
    if found is None:
        raise not_found(f"{part} has no serial {serial}")
    return SerialTrace.of(*found)




@router.get("/serials/{part}/{serial}", responses={404: {"description": "Not found"}})
def read_serial(conn: ConnDep, caller: CurrentUser, part: PartCode,
                serial: SerialCode) -> SerialTrace:
    """A serial's whole life: purchase, receipt, transfers, issue, robot, replacement, scrap.
    A customer viewer sees the serials installed on its own robots."""
    return _trace(conn, caller, part, serial)


@router.post("/serials/{part}/{serial}/install",
             dependencies=[require_action("parts_install")])
def install_serial(caller: CurrentUser, now: NowDep, conn: ConnDep, part: PartCode,
                   serial: SerialCode, body: InstallCreate) -> SerialTrace:
    _doing(lambda: install(conn=conn, part=part, serial=serial, robot=body.robot,
                           replaces=body.replaces, reason=body.reason, actor=caller.name,
                           at=now))
    return _trace(conn, caller, part, serial)


@router.post("/serials/{part}/{serial}/scrap", dependencies=[require_action("parts_scrap")])
def scrap_serial(caller: CurrentUser, now: NowDep, conn: ConnDep, part: PartCode,
                   serial: SerialCode, body: ScrapCreate) -> SerialTrace:
    _doing(lambda: scrap(conn=conn, part=part, serial=serial, reason=body.reason,
                         actor=caller.name, at=now))
    return _trace(conn, caller, part, serial)


@router.get("/warranty/{robot}", responses={404: {"description": "No such robot"}})
def warranty(
    conn: ConnDep, caller: CurrentUser, now: NowDep, policy: PartsPolicyDep, robot: PartCode,
    part: Annotated[str | None, Query(pattern=CODE)] = None,
    quantity: Annotated[int, Query(ge=0, le=100_000)] = 0,
    labour_minutes: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> CoverPublic:
    """Is the robot in warranty today, and what would ``quantity`` of ``part`` and
    ``labour_minutes`` of work cost its customer? A customer viewer asks about its own."""
    found = _doing(lambda: cover(conn=conn, robot=robot, at=now, policy=policy, part=part,
                                 quantity=quantity, labour_minutes=labour_minutes))
    if not caller.sees(found.robot.customer):
        raise not_found(f"robot {robot} not found")
    return CoverPublic.of(found, on=now.astimezone(UTC).date())
