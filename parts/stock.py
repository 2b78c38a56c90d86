"""Stock in the warehouses: purchase and receipt, safety stock, transfers, serial numbers on
robots, scrapping. Every change of a count is a ledger row (``storage.parts.record_move``);
every change of a serial appends to its history, in the same transaction.

Each function takes the connection and the time as arguments (``at``), so a scripted scenario
runs on its own clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from parts.errors import BadRequest, OutOfStock, UnknownItem
from parts.lifecycle import check_serial
from parts.policy import PartsPolicy
from storage.connect import Conn
from storage.parts import (
    PartRow,
    SerialRow,
    StockRow,
    StockShortage,
    UnknownReference,
    add_serial,
    create_transfer,
    get_part,
    lock_serials,
    lock_stock,
    move_serial,
    record_move,
    robot_warranty,
    set_safety_stock,
    warehouse_id,
)
from storage.tickets import atomic

__all__ = ["translated", "part_named", "warehouse_named", "purchase", "receive",
           "set_safety", "transfer", "install", "scrap", "serials_for"]


@contextmanager
def translated() -> Iterator[None]:
    """Storage's refusals as this package's errors."""
    try:
        yield
    except UnknownReference as exc:
        raise UnknownItem(str(exc)) from exc
    except StockShortage as exc:
        raise OutOfStock(f"the database refused it: {exc}") from exc


def part_named(conn: Conn, code: str) -> PartRow:
    part = get_part(conn=conn, code=code)
    if part is None:
        raise UnknownItem(f"no part {code!r} in the catalogue")
    return part


def warehouse_named(conn: Conn, code: str) -> int:
    with translated():
        return warehouse_id(conn=conn, code=code)


def serials_for(
    conn: Conn, part: PartRow, serials: Sequence[str], quantity: int, *, state: str,
    warehouse: str | None = None,
) -> list[SerialRow]:
    """The ``serials`` of a serialised part, locked, all in ``state`` (and at ``warehouse``
    when given); exactly ``quantity`` of them. A counted part takes no serials."""
    if not part.serialised:
        if serials:
            raise BadRequest(f"{part.code} is not serialised; give no serial numbers")
        return []
    if len(set(serials)) != quantity or len(serials) != quantity:
        raise BadRequest(f"{part.code} is serialised: name {quantity} distinct serial "
                         f"number(s), got {len(serials)}")
    rows = lock_serials(conn=conn, part_id=part.id, serials=serials)
    missing = sorted(set(serials) - {r.serial for r in rows})
    if missing:
        raise UnknownItem(f"{part.code} has no serial {', '.join(missing)}")
    for r in rows:
        if r.state != state or (warehouse is not None and r.warehouse != warehouse):
            where = f" at {warehouse}" if warehouse else ""
            raise BadRequest(f"serial {r.serial} is {r.state}"
                             f"{' at ' + r.warehouse if r.warehouse else ''}, not {state}{where}")
    return rows


def purchase(*, conn: Conn, part: str, serials: Sequence[str], order: str, actor: str,
             at: datetime) -> list[int]:
    """Register the serial numbers bought on purchase order ``order`` (not yet received)."""
    _require_text("order", order)
    with atomic(conn=conn):
        row = part_named(conn, part)
        if not row.serialised:
            raise BadRequest(f"{part} is not serialised; receive it by count")
        if not serials or len(set(serials)) != len(serials):
            raise BadRequest("name each purchased serial number once")
        known = lock_serials(conn=conn, part_id=row.id, serials=serials)
        if known:
            raise BadRequest(f"serial {known[0].serial} of {part} is already registered")
        return [add_serial(conn=conn, part_id=row.id, serial=s, at=at,
                           actor=actor, data={"order": order}) for s in serials]


def receive(
    *, conn: Conn, part: str, warehouse: str, quantity: int, actor: str, at: datetime,
    serials: Sequence[str] = (), note: str | None = None,
) -> int:
    """Goods in: ``quantity`` units onto the shelf (purchased serials when serialised); the
    ledger row's id."""
    _require_positive(quantity)
    with atomic(conn=conn), translated():
        row = part_named(conn, part)
        wh = warehouse_named(conn, warehouse)
        for s in serials_for(conn, row, serials, quantity, state="purchased"):
            check_serial(state=s.state, event="receive")
            move_serial(conn=conn, serial_id=s.id, at=at, event="receive",
                        actor=actor, from_state=s.state, to_state="in_stock", warehouse_id=wh)
        return record_move(conn=conn, at=at, part_id=row.id,
                           warehouse_id=wh, quantity=quantity, kind="receipt", actor=actor,
                           serials=serials, note=note)


def set_safety(*, conn: Conn, part: str, warehouse: str, safety_stock: int,
               at: datetime) -> StockRow:
    """Set a safety stock; the low-stock warning is raised or cleared at once."""
    if safety_stock < 0:
        raise BadRequest("safety stock must not be negative")
    with atomic(conn=conn), translated():
        row = part_named(conn, part)
        return set_safety_stock(conn=conn, part_id=row.id,
                                warehouse_id=warehouse_named(conn, warehouse),
                                safety_stock=safety_stock, at=at)


def transfer(
    *, conn: Conn, part: str, source: str, target: str, quantity: int, reason: str,
    emergency: bool, actor: str, at: datetime, policy: PartsPolicy,
    serials: Sequence[str] = (),
) -> int:
    """Move stock between warehouses (section 7's emergency transfer when ``emergency``):
    out of ``source`` and into ``target`` in one transaction; the transfer's id.

    Only what is available (not reserved) may leave. A routine transfer may not take the
    source below its safety stock unless the policy allows it; an emergency one may."""
    _require_positive(quantity)
    _require_text("reason", reason)
    if source == target:
        raise BadRequest("source and target warehouse are the same")
    with atomic(conn=conn), translated():
        row = part_named(conn, part)
        src, dst = warehouse_named(conn, source), warehouse_named(conn, target)
        # Both rows locked, lower id first: two opposite transfers cannot deadlock.
        locked = {wh: lock_stock(conn=conn, part_id=row.id, warehouse_id=wh)
                  for wh in sorted((src, dst))}
        stock = locked[src]
        if stock.available < quantity:
            raise OutOfStock.of(part=part, warehouse=source, wanted=quantity,
                                available=stock.available)
        may_breach = (policy.transfers.emergency_may_breach_safety_stock if emergency
                      else policy.transfers.routine_may_breach_safety_stock)
        if not may_breach and stock.on_hand - quantity < stock.safety_stock:
            kind = "an emergency" if emergency else "a routine"
            raise BadRequest(f"{kind} transfer of {quantity} would take {part} at {source} "
                             f"below its safety stock of {stock.safety_stock} "
                             f"({stock.on_hand} on hand); the policy forbids it")
        moved = serials_for(conn, row, serials, quantity, state="in_stock", warehouse=source)
        tid = create_transfer(conn=conn, at=at, part_id=row.id,
                              from_warehouse=src, to_warehouse=dst, quantity=quantity,
                              emergency=emergency, reason=reason, actor=actor)
        for s in moved:
            check_serial(state=s.state, event="transfer")
            move_serial(conn=conn, serial_id=s.id, at=at, event="transfer",
                        actor=actor, from_state=s.state, to_state="in_stock", warehouse_id=dst,
                        data={"transfer": tid, "from": source, "emergency": emergency})
        for wh, qty, kind in ((src, -quantity, "transfer_out"), (dst, quantity, "transfer_in")):
            record_move(conn=conn, at=at, part_id=row.id, warehouse_id=wh,
                        quantity=qty, kind=kind, actor=actor, transfer_id=tid, serials=serials,
                        note=reason)
        return tid


def install(
    *, conn: Conn, part: str, serial: str, robot: str, actor: str, at: datetime,
    replaces: str | None = None, reason: str | None = None,
) -> None:
    """Serial ``serial`` (issued) is installed on ``robot``; ``replaces`` names the serial of
    the same part it takes the place of, which becomes ``removed`` (``reason`` required)."""
    with atomic(conn=conn), translated():
        row = part_named(conn, part)
        owner = robot_warranty(conn=conn, robot=robot)
        if owner is None:
            raise UnknownItem(f"no robot {robot!r}")
        (new,) = serials_for(conn, row, [serial], 1, state="issued")
        if replaces is not None:
            (old,) = serials_for(conn, row, [replaces], 1, state="installed")
            if old.robot != robot:
                raise BadRequest(f"serial {replaces} is installed on {old.robot}, not {robot}")
            check_serial(state=old.state, event="replace", reason=reason)
            move_serial(conn=conn, serial_id=old.id, at=at, event="replace",
                        actor=actor, from_state=old.state, to_state="removed",
                        data={"robot": robot, "replaced_by": serial, "reason": reason})
        check_serial(state=new.state, event="install")
        move_serial(conn=conn, serial_id=new.id, at=at, event="install",
                    actor=actor, from_state=new.state, to_state="installed",
                    robot_id=owner.robot_id, data={"replaces": replaces} if replaces else {})


def scrap(*, conn: Conn, part: str, serial: str, reason: str, actor: str,
          at: datetime) -> None:
    """Scrap a serial: a removed one leaves the books; one on a shelf leaves the count too."""
    with atomic(conn=conn), translated():
        row = part_named(conn, part)
        found = lock_serials(conn=conn, part_id=row.id, serials=[serial])
        if not found:
            raise UnknownItem(f"{part} has no serial {serial}")
        s = found[0]
        check_serial(state=s.state, event="scrap", reason=reason)
        if s.state == "in_stock" and s.warehouse is not None:
            record_move(conn=conn, at=at, part_id=row.id,
                        warehouse_id=warehouse_named(conn, s.warehouse), quantity=-1,
                        kind="scrap", actor=actor, serials=[serial], note=reason)
        move_serial(conn=conn, serial_id=s.id, at=at, event="scrap",
                    actor=actor, from_state=s.state, to_state="scrapped",
                    data={"reason": reason})


def _require_positive(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise BadRequest(f"quantity must be a whole number of 1 or more, got {quantity!r}")


def _require_text(name: str, value: str | None) -> None:
    if value is None or not value.strip():
        raise BadRequest(f"{name} is required")

