"""Bad input to the stock and serial acts: each is one clear error, and nothing of it is
written (the ledger, the counts and the serials stay as they were)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from parts.errors import BadRequest, NotAllowed, OutOfStock, PartsError, UnknownItem
from parts.requisitions import act, request
from parts.stock import install, purchase, receive, scrap, set_safety, transfer
from storage.parts import ledger, ledger_drift, serial_trace, stock_levels
from tests.parts.world import POLICY, T0, build


@pytest.fixture
def stocked(db: psycopg.Connection) -> psycopg.Connection:
    world = build(db)
    purchase(conn=db, part="MOTOR-J3", serials=["A", "B", "C"], order="PO-1", actor="k", at=T0)
    receive(conn=db, part="MOTOR-J3", warehouse="CENTRAL", quantity=2, serials=["A", "B"],
            actor="k", at=T0)
    receive(conn=db, part="GREASE", warehouse="CENTRAL", quantity=2, actor="k", at=T0)
    req = request(conn=db, part="MOTOR-J3", warehouse="CENTRAL", quantity=1, purpose="p",
                  ticket_id=world.tickets["R-OLD"], actor="e", at=T0, policy=POLICY)
    act(conn=db, requisition_id=req.id, event="approve", actor="k", at=T0)
    act(conn=db, requisition_id=req.id, event="issue", serials=["A"], actor="k", at=T0)
    install(conn=db, part="MOTOR-J3", serial="A", robot="R-OLD", actor="e", at=T0)
    db.commit()
    return db


CASES: dict[str, tuple[type[PartsError], str, Callable[[psycopg.Connection], object]]] = {
    "receipt of a serialised part without serials": (
        BadRequest, "name 1 distinct serial", lambda c: receive(
            conn=c, part="MOTOR-J3", warehouse="CENTRAL", quantity=1, actor="k", at=T0)),
    "receipt naming one serial twice": (
        BadRequest, "distinct", lambda c: receive(
            conn=c, part="MOTOR-J3", warehouse="CENTRAL", quantity=2, serials=["C", "C"],
            actor="k", at=T0)),
    "receipt of a serial never purchased": (
        UnknownItem, "no serial Z", lambda c: receive(
            conn=c, part="MOTOR-J3", warehouse="CENTRAL", quantity=1, serials=["Z"],
            actor="k", at=T0)),
    "receipt of a serial already on the shelf": (
        BadRequest, "serial B is in_stock at CENTRAL, not purchased", lambda c: receive(
            conn=c, part="MOTOR-J3", warehouse="CENTRAL", quantity=1, serials=["B"],
            actor="k", at=T0)),
    "receipt of serials for a counted part": (
        BadRequest, "not serialised", lambda c: receive(
            conn=c, part="GREASE", warehouse="CENTRAL", quantity=1, serials=["X"], actor="k",
            at=T0)),
    "receipt of zero": (
        BadRequest, "quantity must be", lambda c: receive(
            conn=c, part="GREASE", warehouse="CENTRAL", quantity=0, actor="k", at=T0)),
    "receipt into an unknown warehouse": (
        UnknownItem, "no warehouse 'MARS'", lambda c: receive(
            conn=c, part="GREASE", warehouse="MARS", quantity=1, actor="k", at=T0)),
    "receipt of an unknown part": (
        UnknownItem, "no part 'NOPE'", lambda c: receive(
            conn=c, part="NOPE", warehouse="CENTRAL", quantity=1, actor="k", at=T0)),
    "a serial purchased twice": (
        BadRequest, "already registered", lambda c: purchase(
            conn=c, part="MOTOR-J3", serials=["B"], order="PO-2", actor="k", at=T0)),
    "a purchase without an order": (
        BadRequest, "order is required", lambda c: purchase(
            conn=c, part="MOTOR-J3", serials=["D"], order=" ", actor="k", at=T0)),
    "a negative safety stock": (
        BadRequest, "must not be negative", lambda c: set_safety(
            conn=c, part="GREASE", warehouse="CENTRAL", safety_stock=-1, at=T0)),
    "a transfer to the same warehouse": (
        BadRequest, "the same", lambda c: transfer(
            conn=c, part="GREASE", source="CENTRAL", target="CENTRAL", quantity=1,
            reason="r", emergency=True, actor="k", at=T0, policy=POLICY)),
    "a transfer of more than is there": (
        OutOfStock, "3 wanted, 2 available", lambda c: transfer(
            conn=c, part="GREASE", source="CENTRAL", target="SUZHOU", quantity=3,
            reason="r", emergency=True, actor="k", at=T0, policy=POLICY)),
    "a transfer without a reason": (
        BadRequest, "reason is required", lambda c: transfer(
            conn=c, part="GREASE", source="CENTRAL", target="SUZHOU", quantity=1, reason="",
            emergency=True, actor="k", at=T0, policy=POLICY)),
    "a transfer of a serial from elsewhere": (
        BadRequest, "serial A is installed", lambda c: transfer(
            conn=c, part="MOTOR-J3", source="CENTRAL", target="SUZHOU", quantity=1,
            serials=["A"], reason="r", emergency=True, actor="k", at=T0, policy=POLICY)),
    "installing a serial still on the shelf": (
        BadRequest, "serial B is in_stock", lambda c: install(
            conn=c, part="MOTOR-J3", serial="B", robot="R-OLD", actor="e", at=T0)),
    "installing on an unknown robot": (
        UnknownItem, "no robot 'R-X'", lambda c: install(
            conn=c, part="MOTOR-J3", serial="A", robot="R-X", actor="e", at=T0)),
    "scrapping an installed serial": (
        NotAllowed, "'scrap' is not allowed in state 'installed'", lambda c: scrap(
            conn=c, part="MOTOR-J3", serial="A", reason="r", actor="k", at=T0)),
    "scrapping without a reason": (
        BadRequest, "reason is required", lambda c: scrap(
            conn=c, part="MOTOR-J3", serial="B", reason="", actor="k", at=T0)),
    "scrapping an unknown serial": (
        UnknownItem, "no serial Q", lambda c: scrap(
            conn=c, part="MOTOR-J3", serial="Q", reason="r", actor="k", at=T0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_and_leaves_nothing(stocked: psycopg.Connection,
                                                  case: str) -> None:
    error, message, work = CASES[case]
    before = (ledger(conn=stocked), stock_levels(conn=stocked),
              serial_trace(conn=stocked, part="MOTOR-J3", serial="B"))
    with pytest.raises(error, match=message):
        work(stocked)
    stocked.rollback()
    after = (ledger(conn=stocked), stock_levels(conn=stocked),
             serial_trace(conn=stocked, part="MOTOR-J3", serial="B"))
    assert after == before
    assert ledger_drift(conn=stocked) == []


def test_replacing_a_serial_of_another_robot_is_refused(stocked: psycopg.Connection) -> None:
    receive(conn=stocked, part="MOTOR-J3", warehouse="CENTRAL", quantity=1, serials=["C"],
            actor="k", at=T0)
    req = request(conn=stocked, part="MOTOR-J3", warehouse="CENTRAL", quantity=1, purpose="p",
                  robot="R-NEW", work_order="WO-1", actor="e", at=T0, policy=POLICY)
    act(conn=stocked, requisition_id=req.id, event="approve", actor="k", at=T0)
    act(conn=stocked, requisition_id=req.id, event="issue", serials=["C"], actor="k", at=T0)
    with pytest.raises(BadRequest, match="installed on R-OLD, not R-NEW"):
        install(conn=stocked, part="MOTOR-J3", serial="C", robot="R-NEW", replaces="A",
                reason="worn", actor="e", at=T0)
    with pytest.raises(BadRequest, match="5 returned but only 1 issued"):
        act(conn=stocked, requisition_id=req.id, event="return_unused", quantity=5,
            serials=["C"], actor="k", at=T0)
    with pytest.raises(BadRequest, match="name 1 distinct serial"):
        act(conn=stocked, requisition_id=req.id, event="return_unused", quantity=1,
            actor="k", at=T0)
