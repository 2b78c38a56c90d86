"""The spare-parts scenario of issue 11 on a real PostgreSQL with a hand-moved clock: an
in-warranty and an out-of-warranty requisition with the ledger checked, a low-stock warning
raised and cleared, an emergency transfer, and a serial traced from purchase to scrap."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import psycopg
import pytest

from parts.errors import BadRequest, NotAllowed, OutOfStock
from parts.requisitions import Line, act, release_work_order, request, reserve_for_work_order
from parts.stock import install, purchase, receive, scrap, set_safety, transfer
from storage.parts import (
    ledger,
    ledger_drift,
    requisition_events,
    serial_trace,
    stock_levels,
    stock_warnings,
)
from tests.parts.world import GREASE_PRICE, MOTOR_PRICE, POLICY, Clock, build


def _counts(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    return {(s.part, s.warehouse): s.on_hand for s in stock_levels(conn=conn)}


def _ledger_sums(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for row in ledger(conn=conn):
        sums[(row.part, row.warehouse)] += row.quantity
    return dict(sums)


def test_requisitions_in_and_out_of_warranty_with_the_ledger(db: psycopg.Connection) -> None:
    world = build(db)
    clock = Clock()
    keeper, eng = "user:keeper", "user:eng1"

    # Goods in: grease by count, three motors by serial (bought first, then received).
    receive(conn=db, part="GREASE", warehouse="SUZHOU", quantity=10, actor=keeper,
            at=clock.now)
    set_safety(conn=db, part="GREASE", warehouse="SUZHOU", safety_stock=5, at=clock.now)
    purchase(conn=db, part="MOTOR-J3", serials=["SN-0", "SN-1", "SN-2"], order="PO-77",
             actor=keeper, at=clock.now)
    receive(conn=db, part="MOTOR-J3", warehouse="CENTRAL", quantity=3,
            serials=["SN-0", "SN-1", "SN-2"], actor=keeper, at=clock.advance(hours=1))

    # A work order (maintenance) reserves and fits the original motor of the old robot.
    (wo,) = reserve_for_work_order(conn=db, work_order="WO-1", robot="R-OLD",
                                   warehouse="CENTRAL", lines=[Line(part="MOTOR-J3", quantity=1)],
                                   purpose="annual overhaul", actor="maintenance",
                                   at=clock.advance(hours=1), policy=POLICY)
    assert wo.state == "approved"
    assert stock_levels(conn=db, part="MOTOR-J3", warehouse="CENTRAL")[0].available == 2
    act(conn=db, requisition_id=wo.id, event="issue", serials=["SN-0"], actor=keeper,
        at=clock.now)
    install(conn=db, part="MOTOR-J3", serial="SN-0", robot="R-OLD", actor=eng, at=clock.now)
    act(conn=db, requisition_id=wo.id, event="consume", actor=eng, at=clock.now)
    db.commit()

    # In warranty: the new robot's ticket needs a motor where Suzhou has none.
    t1 = clock.advance(days=1)
    free = request(conn=db, part="MOTOR-J3", warehouse="SUZHOU", quantity=1,
                   purpose="replace overheating J3 motor", ticket_id=world.tickets["R-NEW"],
                   actor=eng, at=t1, policy=POLICY)
    assert (free.in_warranty, free.robot, free.customer) == (True, "R-NEW", "NEW1")
    assert str(free.warranty_end) == "2027-05-20"  # installed 2026-05-20 + 12 months
    with pytest.raises(OutOfStock, match="1 wanted, 0 available"):
        act(conn=db, requisition_id=free.id, event="approve", actor=keeper, at=t1)
    tid = transfer(conn=db, part="MOTOR-J3", source="CENTRAL", target="SUZHOU", quantity=1,
                   serials=["SN-1"], reason="robot stopped, no motor in Suzhou",
                   emergency=True, actor=keeper, at=clock.advance(hours=3), policy=POLICY)
    act(conn=db, requisition_id=free.id, event="approve", actor=keeper, at=clock.now)
    act(conn=db, requisition_id=free.id, event="issue", serials=["SN-1"], actor=keeper,
        at=clock.advance(minutes=10))
    install(conn=db, part="MOTOR-J3", serial="SN-1", robot="R-NEW", actor=eng,
            at=clock.advance(hours=2))
    free = act(conn=db, requisition_id=free.id, event="consume", actor=eng, at=clock.now)
    assert (free.state, free.unit_price, free.charge) == ("closed", MOTOR_PRICE, Decimal("0"))

    # Out of warranty: the old robot's ticket takes a new motor (replacing SN-0) and grease.
    t2 = clock.advance(days=1)
    motor = request(conn=db, part="MOTOR-J3", warehouse="CENTRAL", quantity=1,
                    purpose="J3 motor worn", ticket_id=world.tickets["R-OLD"], actor=eng,
                    at=t2, policy=POLICY)
    grease = request(conn=db, part="GREASE", warehouse="SUZHOU", quantity=6,
                     purpose="regrease J3 gearbox", ticket_id=world.tickets["R-OLD"],
                     actor=eng, at=t2, policy=POLICY)
    assert not motor.in_warranty and not grease.in_warranty
    for req, serials in ((motor, ["SN-2"]), (grease, [])):
        act(conn=db, requisition_id=req.id, event="approve", actor=keeper, at=t2)
        act(conn=db, requisition_id=req.id, event="issue", serials=serials, actor=keeper, at=t2)
    # 10 - 6 = 4 < safety stock 5: the warning is raised at the time.
    (warning,) = stock_warnings(conn=db)
    assert (warning.part, warning.warehouse, warning.on_hand, warning.safety_stock,
            warning.raised_at) == ("GREASE", "SUZHOU", 4, 5, t2)
    install(conn=db, part="MOTOR-J3", serial="SN-2", robot="R-OLD", replaces="SN-0",
            reason="winding burnt", actor=eng, at=clock.advance(hours=4))
    motor = act(conn=db, requisition_id=motor.id, event="consume", actor=eng, at=clock.now)
    grease = act(conn=db, requisition_id=grease.id, event="return_unused", quantity=2,
                 actor=keeper, at=clock.advance(hours=1))
    scrap(conn=db, part="MOTOR-J3", serial="SN-0", reason="winding burnt", actor=keeper,
          at=clock.advance(days=1))
    db.commit()

    # Charges computed by the database: catalogue price times what was kept.
    assert motor.charge == MOTOR_PRICE
    assert (grease.issued_qty, grease.returned_qty, grease.charge) == (6, 2, GREASE_PRICE * 4)
    # The return took stock back to 6 >= 5: the warning is cleared at the return's time.
    assert stock_warnings(conn=db) == []
    (cleared,) = stock_warnings(conn=db, open_only=False)
    assert cleared.cleared_at == grease.updated_at

    # The ledger, row by row, and the counts it adds up to.
    rows = [(r.part, r.warehouse, r.kind, r.quantity, r.serials) for r in ledger(conn=db)]
    assert rows == [
        ("GREASE", "SUZHOU", "receipt", 10, []),
        ("MOTOR-J3", "CENTRAL", "receipt", 3, ["SN-0", "SN-1", "SN-2"]),
        ("MOTOR-J3", "CENTRAL", "issue", -1, ["SN-0"]),
        ("MOTOR-J3", "CENTRAL", "transfer_out", -1, ["SN-1"]),
        ("MOTOR-J3", "SUZHOU", "transfer_in", 1, ["SN-1"]),
        ("MOTOR-J3", "SUZHOU", "issue", -1, ["SN-1"]),
        ("MOTOR-J3", "CENTRAL", "issue", -1, ["SN-2"]),
        ("GREASE", "SUZHOU", "issue", -6, []),
        ("GREASE", "SUZHOU", "return", 2, []),
    ]
    assert _counts(db) == _ledger_sums(db) == {
        ("GREASE", "SUZHOU"): 6, ("MOTOR-J3", "CENTRAL"): 0, ("MOTOR-J3", "SUZHOU"): 0}
    assert ledger_drift(conn=db) == []
    assert [r.transfer_id for r in ledger(conn=db) if r.transfer_id] == [tid, tid]

    # The requisition's own history: who did what, when.
    assert [(e.event, e.from_state, e.to_state) for e in
            requisition_events(conn=db, requisition_id=grease.id)] == [
        ("request", None, "requested"), ("approve", "requested", "approved"),
        ("issue", "approved", "issued"), ("return_unused", "issued", "closed")]

    # SN-0's whole life: purchase, receipt, issue, installed on R-OLD, replaced, scrapped.
    found = serial_trace(conn=db, part="MOTOR-J3", serial="SN-0")
    assert found is not None
    serial, events = found
    assert (serial.state, serial.robot, serial.warehouse) == ("scrapped", None, None)
    assert [(e.event, e.to_state, e.warehouse, e.robot) for e in events] == [
        ("purchase", "purchased", None, None),
        ("receive", "in_stock", "CENTRAL", None),
        ("issue", "issued", None, None),
        ("install", "installed", None, "R-OLD"),
        ("replace", "removed", None, None),
        ("scrap", "scrapped", None, None),
    ]
    assert events[0].data == {"order": "PO-77"}
    assert events[2].requisition_id == wo.id
    assert events[4].data["replaced_by"] == "SN-2"
    sn1 = serial_trace(conn=db, part="MOTOR-J3", serial="SN-1")
    assert sn1 is not None and sn1[0].robot == "R-NEW"
    assert [e.event for e in sn1[1]] == ["purchase", "receive", "transfer", "issue", "install"]
    assert sn1[1][2].data == {"transfer": tid, "from": "CENTRAL", "emergency": True}


def test_refusals_leave_nothing_behind(db: psycopg.Connection) -> None:
    world = build(db)
    clock = Clock()
    receive(conn=db, part="GREASE", warehouse="CENTRAL", quantity=3, actor="k", at=clock.now)
    set_safety(conn=db, part="GREASE", warehouse="CENTRAL", safety_stock=2, at=clock.now)
    db.commit()
    req = request(conn=db, part="GREASE", warehouse="CENTRAL", quantity=2, purpose="grease",
                  ticket_id=world.tickets["R-OLD"], actor="e", at=clock.now, policy=POLICY)
    with pytest.raises(NotAllowed, match="'issue' is not allowed in state 'requested'"):
        act(conn=db, requisition_id=req.id, event="issue", actor="k", at=clock.now)
    with pytest.raises(BadRequest, match="reason is required"):
        act(conn=db, requisition_id=req.id, event="reject", actor="k", at=clock.now)
    with pytest.raises(BadRequest, match="approve takes no serial numbers"):
        act(conn=db, requisition_id=req.id, event="approve", serials=["X"], actor="k",
            at=clock.now)
    with pytest.raises(BadRequest, match="ticket or for a work order"):
        request(conn=db, part="GREASE", warehouse="CENTRAL", quantity=1, purpose="p",
                actor="e", at=clock.now, policy=POLICY)
    with pytest.raises(BadRequest, match="quantity must be 1 to 50"):
        request(conn=db, part="GREASE", warehouse="CENTRAL", quantity=51, purpose="p",
                ticket_id=world.tickets["R-OLD"], actor="e", at=clock.now, policy=POLICY)
    # A routine transfer may not breach the source's safety stock; an emergency one may.
    with pytest.raises(BadRequest, match="below its safety stock of 2"):
        transfer(conn=db, part="GREASE", source="CENTRAL", target="SUZHOU", quantity=2,
                 reason="rebalance", emergency=False, actor="k", at=clock.now, policy=POLICY)
    # All lines or none: the second line is short, so the first is not reserved either.
    with pytest.raises(OutOfStock):
        reserve_for_work_order(conn=db, work_order="WO-9", robot="R-NEW", warehouse="CENTRAL",
                               lines=[Line(part="GREASE", quantity=1),
                                      Line(part="MOTOR-J3", quantity=1)],
                               purpose="pm", actor="m", at=clock.now, policy=POLICY)
    # Parts go to open work only.
    db.execute("UPDATE tickets SET closed_at = %s WHERE id = %s",
               (clock.now, world.tickets["R-NEW"]))
    with pytest.raises(BadRequest, match="is closed"):
        request(conn=db, part="GREASE", warehouse="CENTRAL", quantity=1, purpose="p",
                ticket_id=world.tickets["R-NEW"], actor="e", at=clock.now, policy=POLICY)
    db.commit()
    assert stock_levels(conn=db, part="GREASE", warehouse="CENTRAL")[0].reserved == 0
    assert [r.kind for r in ledger(conn=db)] == ["receipt"]
    # A reservation released gives its stock back.
    (held,) = reserve_for_work_order(conn=db, work_order="WO-10", robot="R-NEW",
                                     warehouse="CENTRAL", lines=[Line(part="GREASE", quantity=3)],
                                     purpose="pm", actor="m", at=clock.now, policy=POLICY)
    assert stock_levels(conn=db, part="GREASE", warehouse="CENTRAL")[0].available == 0
    (released,) = release_work_order(conn=db, work_order="WO-10", reason="postponed",
                                     actor="m", at=clock.now)
    assert released.id == held.id and released.state == "cancelled"
    assert stock_levels(conn=db, part="GREASE", warehouse="CENTRAL")[0].available == 3
