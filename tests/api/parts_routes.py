"""The ``/api/v1/parts`` calls of the route x role matrix (``test_auth_routes``): each call
prepares, through ``parts`` itself, what it needs to succeed for a role that is allowed (a
serial on the shelf, an issued one, stock for a transfer), then makes its request. Rows are
OWN's (ACME's robot R-0001), so a customer viewer bound to ACME may see them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

import httpx
import psycopg

from parts.policy import builtin_policy
from parts.requisitions import act, request
from parts.stock import install, purchase, receive
from storage.parts import add_part, add_warehouse, get_part, list_warehouses
from tests.api.seed import NOW

__all__ = ["PARTS_CALLS"]

POLICY = builtin_policy()
ROBOT = "R-0001"


class _World(Protocol):
    base_url: str
    counter: Iterator[int]

    def conn(self) -> psycopg.Connection: ...


Call = Callable[[_World, dict[str, str]], int]


def _stocked(world: _World) -> psycopg.Connection:
    """A connection to a world with warehouses W1, W2, parts T-GREASE and T-MOTOR (serialised)
    and some grease on W1's shelf."""
    conn = world.conn()
    if not list_warehouses(conn=conn):
        add_warehouse(conn=conn, code="W1", name="one")
        add_warehouse(conn=conn, code="W2", name="two")
        add_part(conn=conn, code="T-GREASE", name="grease", unit_price=Decimal("10"),
                 origin="genuine", at=NOW)
        add_part(conn=conn, code="T-MOTOR", name="motor", unit_price=Decimal("900"),
                 origin="genuine", serialised=True, at=NOW)
    assert get_part(conn=conn, code="T-MOTOR") is not None
    receive(conn=conn, part="T-GREASE", warehouse="W1", quantity=5, actor="setup", at=NOW)
    conn.commit()
    return conn


def _serial(world: _World, *, until: str) -> str:
    """A fresh T-MOTOR serial taken through its life ``until`` "in_stock", "issued" or
    "installed" (on R-0001)."""
    serial = f"SN-{next(world.counter)}"
    with _stocked(world) as conn:
        purchase(conn=conn, part="T-MOTOR", serials=[serial], order="PO-1", actor="setup",
                 at=NOW)
        receive(conn=conn, part="T-MOTOR", warehouse="W1", quantity=1, serials=[serial],
                actor="setup", at=NOW)
        if until != "in_stock":
            req = request(conn=conn, part="T-MOTOR", warehouse="W1", quantity=1, purpose="t",
                          robot=ROBOT, work_order=f"WO-{serial}", actor="setup", at=NOW,
                          policy=POLICY)
            act(conn=conn, requisition_id=req.id, event="approve", actor="setup", at=NOW)
            act(conn=conn, requisition_id=req.id, event="issue", serials=[serial],
                actor="setup", at=NOW + timedelta(minutes=1))
        if until == "installed":
            install(conn=conn, part="T-MOTOR", serial=serial, robot=ROBOT, actor="setup",
                    at=NOW)
    return serial


def _requisition(world: _World) -> int:
    with _stocked(world) as conn:
        return request(conn=conn, part="T-GREASE", warehouse="W1", quantity=1, purpose="t",
                       robot=ROBOT, work_order=f"WO-{next(world.counter)}", actor="setup",
                       at=NOW, policy=POLICY).id


def _send(world: _World, headers: dict[str, str], method: str, path: str,
          body: object = None) -> int:
    with httpx.Client(base_url=world.base_url, timeout=10) as c:
        return c.request(method, path, headers=headers, json=body).status_code


def _new_part(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST", "/api/v1/parts/catalogue", {
        "code": f"P-{next(world.counter)}", "name": "p", "unit_price": "1.00",
        "origin": "certified"})


def _purchase(world: _World, headers: dict[str, str]) -> int:
    _stocked(world).close()
    return _send(world, headers, "POST", "/api/v1/parts/purchases", {
        "part": "T-MOTOR", "order": "PO-2", "serials": [f"SN-{next(world.counter)}"]})


def _receipt(world: _World, headers: dict[str, str]) -> int:
    _stocked(world).close()
    return _send(world, headers, "POST", "/api/v1/parts/receipts",
                 {"part": "T-GREASE", "warehouse": "W1", "quantity": 1})


def _transfer(world: _World, headers: dict[str, str]) -> int:
    _stocked(world).close()
    return _send(world, headers, "POST", "/api/v1/parts/transfers", {
        "part": "T-GREASE", "source": "W1", "target": "W2", "quantity": 1,
        "reason": "robot down", "emergency": True})


def _request(world: _World, headers: dict[str, str]) -> int:
    _stocked(world).close()
    return _send(world, headers, "POST", "/api/v1/parts/requisitions", {
        "part": "T-GREASE", "warehouse": "W1", "quantity": 1, "purpose": "t",
        "robot": ROBOT, "work_order": f"WO-{next(world.counter)}"})


def _approve(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST",
                 f"/api/v1/parts/requisitions/{_requisition(world)}/events",
                 {"event": "approve"})


def _read_requisition(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET", f"/api/v1/parts/requisitions/{_requisition(world)}")


def _trace(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "GET",
                 f"/api/v1/parts/serials/T-MOTOR/{_serial(world, until='installed')}")


def _install(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST",
                 f"/api/v1/parts/serials/T-MOTOR/{_serial(world, until='issued')}/install",
                 {"robot": ROBOT})


def _scrap(world: _World, headers: dict[str, str]) -> int:
    return _send(world, headers, "POST",
                 f"/api/v1/parts/serials/T-MOTOR/{_serial(world, until='in_stock')}/scrap",
                 {"reason": "damaged in transit"})


PARTS_CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/api/v1/parts/catalogue"): _new_part,
    ("POST", "/api/v1/parts/purchases"): _purchase,
    ("POST", "/api/v1/parts/receipts"): _receipt,
    ("POST", "/api/v1/parts/transfers"): _transfer,
    ("POST", "/api/v1/parts/requisitions"): _request,
    ("POST", "/api/v1/parts/requisitions/{requisition_id}/events"): _approve,
    ("GET", "/api/v1/parts/requisitions/{requisition_id}"): _read_requisition,
    ("GET", "/api/v1/parts/serials/{part}/{serial}"): _trace,
    ("POST", "/api/v1/parts/serials/{part}/{serial}/install"): _install,
    ("POST", "/api/v1/parts/serials/{part}/{serial}/scrap"): _scrap,
}
