"""Requisitions: parts asked for a ticket or a work order, approved, issued, used or partly
returned (service rules section 7). The lifecycle is ``parts.lifecycle.RequisitionLifecycle``;
each move is stored with its history row and its ledger row in one transaction.

Warranty is decided when the requisition is made, from the robot's record and the policy
(``parts.warranty``), and kept on it; the charge is computed by the database from that flag,
the catalogue price copied at issue and the quantity kept (issued minus returned).

Maintenance reserves the parts of a checklist against its work order with
:func:`reserve_for_work_order` (all lines or none) and gives them back with
:func:`release_work_order`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from parts.errors import BadRequest, OutOfStock, UnknownItem
from parts.lifecycle import check_requisition, check_serial
from parts.policy import PartsPolicy
from parts.stock import part_named, serials_for, translated, warehouse_named
from parts.warranty import Quote, Warranty, quote, warranty_of
from storage.connect import Conn
from storage.parts import (
    RequisitionRow,
    RobotWarranty,
    create_requisition,
    get_requisition,
    list_requisitions,
    lock_stock,
    move_requisition,
    move_serial,
    record_move,
    robot_warranty,
    ticket_robot,
)
from storage.tickets import atomic

__all__ = ["Line", "Cover", "request", "act", "reserve_for_work_order", "release_work_order",
           "cover"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One part of a work order's kit."""

    part: str
    quantity: int


def _robot_for(conn: Conn, *, ticket_id: int | None, robot: str | None,
               work_order: str | None) -> RobotWarranty:
    if (ticket_id is None) == (work_order is None):
        raise BadRequest("a requisition is for a ticket or for a work order: name one")
    if ticket_id is not None:
        found = ticket_robot(conn=conn, ticket_id=ticket_id)
        if found is None:
            raise UnknownItem(f"no ticket {ticket_id}")
        if found.ticket_closed:
            raise BadRequest(f"ticket {ticket_id} is closed; parts go to open work only")
        if robot is not None and robot != found.robot:
            raise BadRequest(f"ticket {ticket_id} is for robot {found.robot}, not {robot}")
        return found
    if robot is None:
        raise BadRequest("a work order's requisition names its robot")
    owner = robot_warranty(conn=conn, robot=robot)
    if owner is None:
        raise UnknownItem(f"no robot {robot!r}")
    return owner


@dataclass(frozen=True, slots=True, kw_only=True)
class Cover:
    """A robot's warranty on a day and what a repair would cost its customer."""

    robot: RobotWarranty
    warranty: Warranty
    quote: Quote


def cover(
    *, conn: Conn, robot: str, at: datetime, policy: PartsPolicy, part: str | None = None,
    quantity: int = 0, labour_minutes: int = 0,
) -> Cover:
    """Is ``robot`` in warranty on the UTC day of ``at``, and what would ``quantity`` of
    ``part`` and ``labour_minutes`` of work cost (nothing in warranty)?"""
    owner = robot_warranty(conn=conn, robot=robot)
    if owner is None:
        raise UnknownItem(f"no robot {robot!r}")
    w = warranty_of(install_date=owner.install_date, warranty_end=owner.warranty_end,
                    on=at.astimezone(UTC).date(), policy=policy)
    price = part_named(conn, part).unit_price if part is not None else Decimal(0)
    if part is None and quantity:
        raise BadRequest("a quantity needs the part it counts")
    return Cover(robot=owner, warranty=w, quote=quote(
        in_warranty=w.in_warranty, unit_price=price, quantity=quantity,
        labour_minutes=labour_minutes, policy=policy))


def request(
    *, conn: Conn, part: str, warehouse: str, quantity: int, purpose: str, actor: str,
    at: datetime, policy: PartsPolicy, ticket_id: int | None = None, robot: str | None = None,
    work_order: str | None = None,
) -> RequisitionRow:
    """Ask for ``quantity`` of ``part`` from ``warehouse`` for a ticket (its robot and
    customer follow) or a work order on ``robot``. Warranty is decided here, on the UTC day
    of ``at``."""
    if not purpose or not purpose.strip():
        raise BadRequest("purpose is required")
    limit = policy.requisitions.max_quantity
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= limit:
        raise BadRequest(f"quantity must be 1 to {limit} (policy), got {quantity!r}")
    with atomic(conn=conn), translated():
        row = part_named(conn, part)
        wh = warehouse_named(conn, warehouse)
        owner = _robot_for(conn, ticket_id=ticket_id, robot=robot, work_order=work_order)
        w = warranty_of(install_date=owner.install_date, warranty_end=owner.warranty_end,
                        on=at.astimezone(UTC).date(), policy=policy)
        return create_requisition(
            conn=conn, part_id=row.id, warehouse_id=wh, quantity=quantity, purpose=purpose,
            robot_id=owner.robot_id, ticket_id=ticket_id, work_order=work_order, actor=actor,
            at=at, in_warranty=w.in_warranty, warranty_end=w.end,
            data={"warranty": w.basis, "policy": policy.label})


def act(
    *, conn: Conn, requisition_id: int, event: str, actor: str, at: datetime,
    reason: str | None = None, quantity: int | None = None, serials: Sequence[str] = (),
) -> RequisitionRow:
    """Apply ``event`` (approve, reject, cancel, issue, consume, return_unused) to a
    requisition; the requisition as it is afterwards.

    ``approve`` reserves the quantity (refused when not that much is available); ``issue``
    takes it off the shelf (serial numbers named for a serialised part); ``return_unused``
    puts ``quantity`` back (their serials named) and closes."""
    with atomic(conn=conn), translated():
        req = get_requisition(conn=conn, requisition_id=requisition_id, lock=True)
        if req is None:
            raise UnknownItem(f"no requisition {requisition_id}")
        target = check_requisition(state=req.state, event=event, reason=reason,
                                   quantity=quantity)
        data: dict[str, Any] = {k: v for k, v in (("reason", reason), ("quantity", quantity),
                                                  ("serials", list(serials))) if v}
        moves: dict[str, int] = {}
        if event in ("approve", "issue"):
            _check_available(conn, req, own_reservation=event == "issue")
        if event == "issue":
            _issue(conn, req, serials=serials, actor=actor, at=at)
            moves["issued_qty"] = req.quantity
        elif event == "return_unused":
            assert quantity is not None  # the lifecycle's validator made sure
            _give_back(conn, req, quantity=quantity, serials=serials, actor=actor, at=at)
            moves["returned_qty"] = quantity
        elif serials:
            raise BadRequest(f"{event} takes no serial numbers")
        return move_requisition(conn=conn, requisition_id=req.id, at=at, event=event,
                                actor=actor, from_state=req.state, to_state=target, data=data,
                                **moves)


def _check_available(conn: Conn, req: RequisitionRow, *, own_reservation: bool) -> None:
    # Under the stock row's lock: whoever comes second sees the first one's reservation.
    stock = lock_stock(conn=conn, part_id=req.part_id, warehouse_id=req.warehouse_id)
    available = stock.available + (req.quantity if own_reservation else 0)
    if available < req.quantity:
        raise OutOfStock.of(part=req.part, warehouse=req.warehouse, wanted=req.quantity,
                            available=available)


def _issue(conn: Conn, req: RequisitionRow, *, serials: Sequence[str], actor: str,
           at: datetime) -> None:
    part = part_named(conn, req.part)
    for s in serials_for(conn, part, serials, req.quantity, state="in_stock",
                         warehouse=req.warehouse):
        check_serial(state=s.state, event="issue")
        move_serial(conn=conn, serial_id=s.id, at=at, event="issue", actor=actor,
                    from_state=s.state, to_state="issued", requisition_id=req.id,
                    data={"robot": req.robot, "ticket": req.ticket_id,
                          "work_order": req.work_order})
    record_move(conn=conn, at=at, part_id=req.part_id, warehouse_id=req.warehouse_id,
                quantity=-req.quantity, kind="issue", actor=actor, requisition_id=req.id,
                serials=serials)


def _give_back(conn: Conn, req: RequisitionRow, *, quantity: int, serials: Sequence[str],
               actor: str, at: datetime) -> None:
    if quantity > req.issued_qty:
        raise BadRequest(f"{quantity} returned but only {req.issued_qty} issued")
    part = part_named(conn, req.part)
    for s in serials_for(conn, part, serials, quantity, state="issued"):
        if s.requisition_id != req.id:
            raise BadRequest(f"serial {s.serial} was not issued on requisition {req.id}")
        check_serial(state=s.state, event="restock")
        move_serial(conn=conn, serial_id=s.id, at=at, event="restock", actor=actor,
                    from_state=s.state, to_state="in_stock", warehouse_id=req.warehouse_id,
                    requisition_id=req.id)
    record_move(conn=conn, at=at, part_id=req.part_id, warehouse_id=req.warehouse_id,
                quantity=quantity, kind="return", actor=actor, requisition_id=req.id,
                serials=serials)


def reserve_for_work_order(
    *, conn: Conn, work_order: str, robot: str, warehouse: str, lines: Sequence[Line],
    purpose: str, actor: str, at: datetime, policy: PartsPolicy,
) -> list[RequisitionRow]:
    """Reserve a work order's kit: one requisition per line, requested and approved at once
    (a planned kit needs no second pair of eyes), in the order of ``lines``. All lines or
    none: when one part is short, :class:`OutOfStock` names it and nothing is reserved."""
    if not lines:
        raise BadRequest("a reservation needs at least one line")
    with atomic(conn=conn):
        out: dict[int, RequisitionRow] = {}
        # Stock rows are locked in part order, so two kits sharing parts cannot deadlock.
        for i, line in sorted(enumerate(lines), key=lambda item: item[1].part):
            req = request(conn=conn, part=line.part, warehouse=warehouse,
                          quantity=line.quantity, purpose=purpose, actor=actor, at=at,
                          policy=policy, robot=robot, work_order=work_order)
            out[i] = act(conn=conn, requisition_id=req.id, event="approve", actor=actor, at=at)
        return [out[i] for i in range(len(lines))]


def release_work_order(
    *, conn: Conn, work_order: str, reason: str, actor: str, at: datetime
) -> list[RequisitionRow]:
    """Cancel the work order's requisitions not issued yet, freeing their reservations."""
    with atomic(conn=conn):
        rows, _ = list_requisitions(conn=conn, work_order=work_order, limit=10_000)
        return [act(conn=conn, requisition_id=r.id, event="cancel", reason=reason, actor=actor,
                    at=at)
                for r in rows if r.state in ("requested", "approved")]
