"""Spare parts: catalogue, warehouses, stock, the in/out ledger, requisitions, transfers,
serial numbers (migration 0011).

Written by ``parts``, read by the API and the CLI. The count is never written here: every
stock change is a ledger row (:func:`record_move`) and the database's trigger moves
``part_stock.on_hand`` with it; a direct write, or a move that would take the count below
zero, is refused by the database. Functions work in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from storage.connect import Conn
from storage.rows import fetch_all as _rows
from storage.rows import fetch_one as _one
from storage.users import UnknownReference

__all__ = [
    "StockShortage", "UnknownReference", "WarehouseRow", "PartRow", "StockRow", "LedgerRow",
    "DriftRow", "WarningRow", "RobotWarranty", "RequisitionRow", "RequisitionEventRow",
    "SerialRow", "SerialEventRow", "add_warehouse", "list_warehouses", "add_part", "get_part",
    "list_parts", "warehouse_id", "set_safety_stock", "lock_stock", "stock_levels",
    "record_move", "ledger", "ledger_drift", "stock_warnings", "get_stock_warning",
    "robot_warranty",
    "ticket_robot", "create_requisition", "get_requisition", "list_requisitions",
    "requisition_events", "move_requisition", "create_transfer", "add_serial",
    "lock_serials", "move_serial", "serial_trace",
]


class StockShortage(ValueError):
    """The database refused a move that would take a count below zero (the backstop behind
    the caller's own check: another transaction took the stock meanwhile)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WarehouseRow:
    id: int
    code: str
    name: str
    city: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PartRow:
    id: int
    code: str
    name: str
    unit_price: Decimal
    serialised: bool
    origin: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StockRow:
    part_id: int
    part: str
    warehouse_id: int
    warehouse: str
    on_hand: int
    safety_stock: int
    reserved: int      # held by approved, not yet issued requisitions

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def low(self) -> bool:
        return self.on_hand < self.safety_stock


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    id: int
    at: datetime
    part: str
    warehouse: str
    quantity: int
    kind: str
    requisition_id: int | None
    transfer_id: int | None
    serials: list[str]
    actor: str
    note: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftRow:
    part: str
    warehouse: str
    on_hand: int
    ledger_sum: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WarningRow:
    id: int
    part: str
    warehouse: str
    raised_at: datetime
    on_hand: int
    safety_stock: int
    cleared_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RobotWarranty:
    robot_id: int
    robot: str
    customer: str
    install_date: date | None
    warranty_end: date | None
    # Set when looked up through a ticket: whose ticket it is and whether it is still open.
    ticket_id: int | None = None
    ticket_assignee: str | None = None
    ticket_closed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RequisitionRow:
    id: int
    part: str
    part_id: int
    serialised: bool
    warehouse: str
    warehouse_id: int
    quantity: int
    purpose: str
    robot: str
    robot_id: int
    customer: str
    ticket_id: int | None
    work_order: str | None
    state: str
    requested_by: str
    requested_at: datetime
    in_warranty: bool
    warranty_end: date | None
    unit_price: Decimal | None
    issued_qty: int
    returned_qty: int
    charge: Decimal
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RequisitionEventRow:
    id: int
    requisition_id: int
    at: datetime
    event: str
    actor: str
    from_state: str | None
    to_state: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialRow:
    id: int
    part: str
    part_id: int
    serial: str
    state: str
    warehouse: str | None
    robot: str | None
    requisition_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialEventRow:
    id: int
    at: datetime
    event: str
    actor: str
    from_state: str | None
    to_state: str
    warehouse: str | None
    robot: str | None
    requisition_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


def _ref(conn: Conn, table: str, code: str) -> int:
    # ``table`` is one of this module's literals, never input.
    r = _one(conn, f"SELECT id FROM {table} WHERE code = %s", (code,))
    if r is None:
        raise UnknownReference(f"no {table.removesuffix('s').replace('_', ' ')} {code!r}")
    return int(r["id"])


def add_warehouse(*, conn: Conn, code: str, name: str, city: str | None = None) -> WarehouseRow:
    r = _one(conn, "INSERT INTO warehouses (code, name, city) VALUES (%s, %s, %s) "
                   "RETURNING id, code, name, city", (code, name, city))
    assert r is not None  # INSERT ... RETURNING always yields the row
    return WarehouseRow(**r)


def list_warehouses(*, conn: Conn) -> list[WarehouseRow]:
    return [WarehouseRow(**r) for r in _rows(conn, "SELECT id, code, name, city "
                                                   "FROM warehouses ORDER BY code")]


def warehouse_id(*, conn: Conn, code: str) -> int:
    """The id of warehouse ``code``; :class:`UnknownReference` when there is none."""
    return _ref(conn, "warehouses", code)


_PART = "SELECT id, code, name, unit_price, serialised, origin FROM part_catalogue"


def add_part(
    *, conn: Conn, code: str, name: str, unit_price: Decimal, origin: str, at: datetime,
    serialised: bool = False,
) -> PartRow:
    r = _one(conn, """INSERT INTO part_catalogue (code, name, unit_price, serialised, origin,
                                                  created_at)
                      VALUES (%s, %s, %s, %s, %s, %s)
                      RETURNING id, code, name, unit_price, serialised, origin""",
             (code, name, unit_price, serialised, origin, at))
    assert r is not None  # INSERT ... RETURNING always yields the row
    return PartRow(**r)


def get_part(*, conn: Conn, code: str) -> PartRow | None:
    r = _one(conn, f"{_PART} WHERE code = %s", (code,))
    return PartRow(**r) if r else None


def list_parts(*, conn: Conn) -> list[PartRow]:
    return [PartRow(**r) for r in _rows(conn, f"{_PART} ORDER BY code")]


_STOCK = """
    SELECT s.part_id, p.code AS part, s.warehouse_id, w.code AS warehouse, s.on_hand,
           s.safety_stock,
           COALESCE((SELECT sum(q.quantity) FROM part_requisitions q
                      WHERE q.part_id = s.part_id AND q.warehouse_id = s.warehouse_id
                        AND q.state = 'approved'), 0)::integer AS reserved
      FROM part_stock s
      JOIN part_catalogue p ON p.id = s.part_id
      JOIN warehouses w ON w.id = s.warehouse_id
"""


def set_safety_stock(
    *, conn: Conn, part_id: int, warehouse_id: int, safety_stock: int, at: datetime
) -> StockRow:
    """Set the safety stock of one stock row (created empty if new) and raise or clear its
    low-stock warning as of ``at``."""
    conn.execute("""INSERT INTO part_stock (part_id, warehouse_id, safety_stock)
                    VALUES (%s, %s, %s) ON CONFLICT (part_id, warehouse_id)
                    DO UPDATE SET safety_stock = EXCLUDED.safety_stock""",
                 (part_id, warehouse_id, safety_stock))
    conn.execute("SELECT parts_check_low(%s, %s, %s)", (part_id, warehouse_id, at))
    return lock_stock(conn=conn, part_id=part_id, warehouse_id=warehouse_id)


def lock_stock(*, conn: Conn, part_id: int, warehouse_id: int) -> StockRow:
    """The stock row, locked until the transaction ends (created empty if new): every check
    of what is available happens under this lock, so two takers are served one at a time."""
    conn.execute("INSERT INTO part_stock (part_id, warehouse_id) VALUES (%s, %s) "
                 "ON CONFLICT DO NOTHING", (part_id, warehouse_id))
    conn.execute("SELECT 1 FROM part_stock WHERE part_id = %s AND warehouse_id = %s FOR UPDATE",
                 (part_id, warehouse_id))
    r = _one(conn, f"{_STOCK} WHERE s.part_id = %s AND s.warehouse_id = %s",
             (part_id, warehouse_id))
    assert r is not None  # inserted above
    return StockRow(**r)


def stock_levels(
    *, conn: Conn, part: str | None = None, warehouse: str | None = None, low_only: bool = False
) -> list[StockRow]:
    rows = _rows(conn, f"""{_STOCK}
                 WHERE (%(part)s::text IS NULL OR p.code = %(part)s)
                   AND (%(wh)s::text IS NULL OR w.code = %(wh)s)
                   AND (NOT %(low)s OR s.on_hand < s.safety_stock)
                 ORDER BY p.code, w.code""", {"part": part, "wh": warehouse, "low": low_only})
    return [StockRow(**r) for r in rows]


def record_move(
    *, conn: Conn, at: datetime, part_id: int, warehouse_id: int, quantity: int, kind: str,
    actor: str, requisition_id: int | None = None, transfer_id: int | None = None,
    serials: Sequence[str] = (), note: str | None = None,
) -> int:
    """Append one ledger row (the database moves the count with it); its id.

    :class:`StockShortage` when the count would go below zero. Runs in a savepoint, so the
    caller's transaction stays usable after a refusal."""
    try:
        with conn.transaction():
            r = _one(conn, """INSERT INTO part_ledger (at, part_id, warehouse_id, quantity, kind,
                                  requisition_id, transfer_id, serials, actor, note)
                              VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                     (at, part_id, warehouse_id, quantity, kind, requisition_id, transfer_id,
                      list(serials), actor, note))
    except psycopg.errors.CheckViolation as exc:
        if exc.diag.constraint_name == "part_stock_on_hand_check":
            raise StockShortage(f"stock would go below zero ({kind} of {abs(quantity)})") from exc
        raise
    assert r is not None  # INSERT ... RETURNING always yields the row
    return int(r["id"])


def ledger(
    *, conn: Conn, part: str | None = None, warehouse: str | None = None, limit: int = 1000
) -> list[LedgerRow]:
    rows = _rows(conn, """SELECT l.id, l.at, p.code AS part, w.code AS warehouse, l.quantity,
                                 l.kind, l.requisition_id, l.transfer_id, l.serials, l.actor,
                                 l.note
                            FROM part_ledger l
                            JOIN part_catalogue p ON p.id = l.part_id
                            JOIN warehouses w ON w.id = l.warehouse_id
                           WHERE (%(part)s::text IS NULL OR p.code = %(part)s)
                             AND (%(wh)s::text IS NULL OR w.code = %(wh)s)
                           ORDER BY l.id LIMIT %(limit)s""",
                 {"part": part, "wh": warehouse, "limit": limit})
    return [LedgerRow(**r) for r in rows]


def ledger_drift(*, conn: Conn) -> list[DriftRow]:
    """Stock rows whose count differs from the sum of their ledger: empty unless the
    database's guards were bypassed (a superuser disabling triggers)."""
    rows = _rows(conn, """SELECT p.code AS part, w.code AS warehouse, s.on_hand,
                                 COALESCE(l.total, 0)::integer AS ledger_sum
                            FROM part_stock s
                            JOIN part_catalogue p ON p.id = s.part_id
                            JOIN warehouses w ON w.id = s.warehouse_id
                            LEFT JOIN (SELECT part_id, warehouse_id, sum(quantity) AS total
                                         FROM part_ledger GROUP BY part_id, warehouse_id) l
                              ON l.part_id = s.part_id AND l.warehouse_id = s.warehouse_id
                           WHERE s.on_hand <> COALESCE(l.total, 0)
                           ORDER BY p.code, w.code""")
    return [DriftRow(**r) for r in rows]


_WARNING = """SELECT x.id, p.code AS part, w.code AS warehouse, x.raised_at, x.on_hand,
                     x.safety_stock, x.cleared_at
                FROM part_stock_warnings x
                JOIN part_catalogue p ON p.id = x.part_id
                JOIN warehouses w ON w.id = x.warehouse_id"""


def stock_warnings(*, conn: Conn, open_only: bool = True) -> list[WarningRow]:
    rows = _rows(conn, f"{_WARNING} WHERE NOT %s OR x.cleared_at IS NULL ORDER BY x.id",
                 (open_only,))
    return [WarningRow(**r) for r in rows]


def get_stock_warning(*, conn: Conn, warning_id: int) -> WarningRow | None:
    r = _one(conn, f"{_WARNING} WHERE x.id = %s", (warning_id,))
    return WarningRow(**r) if r else None


_ROBOT = """SELECT r.id AS robot_id, r.code AS robot, c.code AS customer, r.install_date,
                   r.warranty_end
              FROM robots r JOIN lines l ON l.id = r.line_id
              JOIN sites s ON s.id = l.site_id JOIN customers c ON c.id = s.customer_id"""


def robot_warranty(*, conn: Conn, robot: str) -> RobotWarranty | None:
    """Robot ``robot`` (code) with its customer, install date and recorded warranty end."""
    r = _one(conn, f"{_ROBOT} WHERE r.code = %s", (robot,))
    return RobotWarranty(**r) if r else None


def ticket_robot(*, conn: Conn, ticket_id: int) -> RobotWarranty | None:
    """The robot of ticket ``ticket_id``, with the ticket's customer and assignee."""
    r = _one(conn, f"""SELECT x.*, t.id AS ticket_id, e.code AS ticket_assignee,
                              t.closed_at IS NOT NULL AS ticket_closed
                         FROM tickets t JOIN ({_ROBOT}) x ON x.robot_id = t.robot_id
                         LEFT JOIN engineers e ON e.id = t.assignee_id
                        WHERE t.id = %s""", (ticket_id,))
    return RobotWarranty(**r) if r else None


_REQUISITION = """
    SELECT q.id, p.code AS part, q.part_id, p.serialised, w.code AS warehouse, q.warehouse_id,
           q.quantity, q.purpose, r.code AS robot, q.robot_id, c.code AS customer, q.ticket_id,
           q.work_order, q.state, q.requested_by, q.requested_at, q.in_warranty,
           q.warranty_end, q.unit_price, q.issued_qty, q.returned_qty, q.charge, q.version,
           q.updated_at
      FROM part_requisitions q
      JOIN part_catalogue p ON p.id = q.part_id
      JOIN warehouses w ON w.id = q.warehouse_id
      JOIN robots r ON r.id = q.robot_id
      JOIN customers c ON c.id = q.customer_id
"""


def _event(conn: Conn, *, requisition_id: int, at: datetime, event: str, actor: str,
           from_state: str | None, to_state: str, data: dict[str, Any]) -> None:
    conn.execute("""INSERT INTO part_requisition_events
                        (requisition_id, at, event, actor, from_state, to_state, data)
                    VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                 (requisition_id, at, event, actor, from_state, to_state, Jsonb(data)))


def create_requisition(
    *, conn: Conn, part_id: int, warehouse_id: int, quantity: int, purpose: str,
    robot_id: int, ticket_id: int | None, work_order: str | None, actor: str, at: datetime,
    in_warranty: bool, warranty_end: date | None, data: dict[str, Any] | None = None,
) -> RequisitionRow:
    """A ``requested`` requisition and its first history row; the customer is the robot's."""
    r = _one(conn, """INSERT INTO part_requisitions (part_id, warehouse_id, quantity, purpose,
                          robot_id, customer_id, ticket_id, work_order, requested_by,
                          requested_at, in_warranty, warranty_end, updated_at)
                      SELECT %(part)s, %(wh)s, %(qty)s, %(purpose)s, r.id, s.customer_id,
                             %(ticket)s, %(wo)s, %(actor)s, %(at)s, %(inw)s, %(wend)s, %(at)s
                        FROM robots r JOIN lines l ON l.id = r.line_id
                        JOIN sites s ON s.id = l.site_id
                       WHERE r.id = %(robot)s
                      RETURNING id""",
             {"part": part_id, "wh": warehouse_id, "qty": quantity, "purpose": purpose,
              "ticket": ticket_id, "wo": work_order, "actor": actor, "at": at,
              "inw": in_warranty, "wend": warranty_end, "robot": robot_id})
    if r is None:
        raise UnknownReference(f"no robot with id {robot_id}")
    _event(conn, requisition_id=r["id"], at=at, event="request", actor=actor, from_state=None,
           to_state="requested", data=data or {})
    row = get_requisition(conn=conn, requisition_id=r["id"])
    assert row is not None  # inserted above
    return row


def get_requisition(
    *, conn: Conn, requisition_id: int, lock: bool = False
) -> RequisitionRow | None:
    """One requisition; with ``lock`` its row stays locked until the transaction ends."""
    suffix = " FOR UPDATE OF q" if lock else ""
    r = _one(conn, f"{_REQUISITION} WHERE q.id = %s{suffix}", (requisition_id,))
    return RequisitionRow(**r) if r else None


def list_requisitions(
    *, conn: Conn, customer: str | None = None, ticket_id: int | None = None,
    work_order: str | None = None, state: str | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[RequisitionRow], int]:
    """A page of requisitions, newest first, and how many match in all."""
    where = """WHERE (%(customer)s::text IS NULL OR c.code = %(customer)s)
                 AND (%(ticket)s::bigint IS NULL OR q.ticket_id = %(ticket)s)
                 AND (%(wo)s::text IS NULL OR q.work_order = %(wo)s)
                 AND (%(state)s::text IS NULL OR q.state = %(state)s)"""
    params = {"customer": customer, "ticket": ticket_id, "wo": work_order, "state": state,
              "limit": limit, "offset": offset}
    rows = _rows(conn, f"{_REQUISITION} {where} ORDER BY q.id DESC "
                       "LIMIT %(limit)s OFFSET %(offset)s", params)
    total = _one(conn, f"SELECT count(*) AS n FROM ({_REQUISITION} {where}) x", params)
    return [RequisitionRow(**r) for r in rows], int(total["n"]) if total else 0


def requisition_events(*, conn: Conn, requisition_id: int) -> list[RequisitionEventRow]:
    rows = _rows(conn, """SELECT id, requisition_id, at, event, actor, from_state, to_state,
                                 data
                            FROM part_requisition_events WHERE requisition_id = %s
                           ORDER BY id""", (requisition_id,))
    return [RequisitionEventRow(**r) for r in rows]


def move_requisition(
    *, conn: Conn, requisition_id: int, at: datetime, event: str, actor: str,
    from_state: str, to_state: str, data: dict[str, Any] | None = None,
    issued_qty: int | None = None, returned_qty: int | None = None,
) -> RequisitionRow:
    """Store a lifecycle move and its history row. Issuing (``issued_qty``) copies the
    catalogue's unit price onto the requisition in the same statement."""
    conn.execute("""UPDATE part_requisitions q
                       SET state = %(to)s, version = version + 1, updated_at = %(at)s,
                           issued_qty = COALESCE(%(issued)s, issued_qty),
                           returned_qty = COALESCE(%(returned)s, returned_qty),
                           unit_price = CASE WHEN %(issued)s::integer IS NULL THEN q.unit_price
                                             ELSE (SELECT unit_price FROM part_catalogue p
                                                    WHERE p.id = q.part_id) END
                     WHERE id = %(id)s AND state = %(from)s""",
                 {"to": to_state, "at": at, "issued": issued_qty, "returned": returned_qty,
                  "id": requisition_id, "from": from_state})
    _event(conn, requisition_id=requisition_id, at=at, event=event, actor=actor,
           from_state=from_state, to_state=to_state, data=data or {})
    row = get_requisition(conn=conn, requisition_id=requisition_id)
    assert row is not None  # the caller holds its lock
    return row


def create_transfer(
    *, conn: Conn, at: datetime, part_id: int, from_warehouse: int, to_warehouse: int,
    quantity: int, emergency: bool, reason: str, actor: str,
) -> int:
    r = _one(conn, """INSERT INTO part_transfers (at, part_id, from_warehouse, to_warehouse,
                                                  quantity, emergency, reason, actor)
                      VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
             (at, part_id, from_warehouse, to_warehouse, quantity, emergency, reason, actor))
    assert r is not None  # INSERT ... RETURNING always yields the row
    return int(r["id"])


_SERIAL = """
    SELECT s.id, p.code AS part, s.part_id, s.serial, s.state, w.code AS warehouse,
           r.code AS robot, s.requisition_id
      FROM part_serials s
      JOIN part_catalogue p ON p.id = s.part_id
      LEFT JOIN warehouses w ON w.id = s.warehouse_id
      LEFT JOIN robots r ON r.id = s.robot_id
"""


def add_serial(
    *, conn: Conn, part_id: int, serial: str, at: datetime, actor: str,
    data: dict[str, Any] | None = None,
) -> int:
    """A purchased serial number (and its ``purchase`` history row); its id."""
    r = _one(conn, "INSERT INTO part_serials (part_id, serial, state) "
                   "VALUES (%s, %s, 'purchased') RETURNING id", (part_id, serial))
    assert r is not None  # INSERT ... RETURNING always yields the row
    conn.execute("""INSERT INTO part_serial_events (serial_id, at, event, actor, from_state,
                                                    to_state, data)
                    VALUES (%s, %s, 'purchase', %s, NULL, 'purchased', %s)""",
                 (r["id"], at, actor, Jsonb(data or {})))
    return int(r["id"])


def lock_serials(*, conn: Conn, part_id: int, serials: Sequence[str]) -> list[SerialRow]:
    """The named serials of a part that exist, locked until the transaction ends."""
    rows = _rows(conn, f"{_SERIAL} WHERE s.part_id = %s AND s.serial = ANY(%s) "
                       "ORDER BY s.serial FOR UPDATE OF s", (part_id, list(serials)))
    return [SerialRow(**r) for r in rows]


def move_serial(
    *, conn: Conn, serial_id: int, at: datetime, event: str, actor: str, from_state: str,
    to_state: str, warehouse_id: int | None = None, robot_id: int | None = None,
    requisition_id: int | None = None, data: dict[str, Any] | None = None,
) -> None:
    """Move one serial and append its history row. Where it is (warehouse, robot) follows
    the new state; the requisition it went out on is kept once set."""
    conn.execute("""UPDATE part_serials
                       SET state = %(to)s, warehouse_id = %(wh)s, robot_id = %(robot)s,
                           requisition_id = COALESCE(%(req)s, requisition_id)
                     WHERE id = %(id)s AND state = %(from)s""",
                 {"to": to_state, "wh": warehouse_id, "robot": robot_id, "req": requisition_id,
                  "id": serial_id, "from": from_state})
    conn.execute("""INSERT INTO part_serial_events (serial_id, at, event, actor, from_state,
                        to_state, warehouse_id, robot_id, requisition_id, data)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                 (serial_id, at, event, actor, from_state, to_state, warehouse_id, robot_id,
                  requisition_id, Jsonb(data or {})))


def serial_trace(
    *, conn: Conn, part: str, serial: str
) -> tuple[SerialRow, list[SerialEventRow]] | None:
    """A serial and its whole life, oldest first; None if the part has no such serial."""
    r = _one(conn, f"{_SERIAL} WHERE p.code = %s AND s.serial = %s", (part, serial))
    if r is None:
        return None
    events = _rows(conn, """SELECT e.id, e.at, e.event, e.actor, e.from_state, e.to_state,
                                   w.code AS warehouse, r.code AS robot, e.requisition_id,
                                   e.data
                              FROM part_serial_events e
                              LEFT JOIN warehouses w ON w.id = e.warehouse_id
                              LEFT JOIN robots r ON r.id = e.robot_id
                             WHERE e.serial_id = %s ORDER BY e.id""", (r["id"],))
    return SerialRow(**r), [SerialEventRow(**e) for e in events]
