"""A checklist's parts reserved in the warehouse serving the site (policy ``[parts]``) through
``parts``' own functions; a shortage is an event and a warning, never an error, and is tried
again; a cancelled or moved work order gives its kit back."""

from __future__ import annotations

import logging
from datetime import time, timedelta
from decimal import Decimal

import psycopg
import pytest

from maintenance.orders import cancel
from maintenance.policy import ShiftDef, SiteWindows
from maintenance.reserve import RELEASED, RESERVED, SHORTAGE, work_order
from maintenance.service import sync
from parts.stock import receive
from storage import maintenance as store
from storage.parts import add_part, add_warehouse, list_requisitions, lock_stock, warehouse_id
from tests.maintenance.fleet import KIT_POLICY, NOW, seed

POLICY = KIT_POLICY


def _stock(db: psycopg.Connection, *, suzhou: int, central: int) -> None:
    add_warehouse(conn=db, code="SUZHOU", name="Suzhou field store", city="Suzhou")
    add_warehouse(conn=db, code="CENTRAL", name="Central store", city="Shanghai")
    add_part(conn=db, code="GREASE-400", name="grease", unit_price=Decimal("120.50"),
             origin="certified", at=NOW)
    for wh, qty in (("SUZHOU", suzhou), ("CENTRAL", central)):
        if qty:
            receive(conn=db, part="GREASE-400", warehouse=wh, quantity=qty, actor="keeper",
                    at=NOW - timedelta(days=1))
    db.commit()


def _available(db: psycopg.Connection, warehouse: str) -> int:
    part = db.execute("SELECT id FROM part_catalogue WHERE code = 'GREASE-400'").fetchone()
    assert part is not None
    return lock_stock(conn=db, part_id=part[0],
                      warehouse_id=warehouse_id(conn=db, code=warehouse)).available


def _hardware(db: psycopg.Connection, robot: str) -> store.InspectionRow:
    rows, _ = store.list_inspections(conn=db, robot=robot, open_only=True)
    return next(r for r in rows if r.plan == "hardware")


def _events(db: psycopg.Connection, iid: int) -> list[str]:
    return [e.event for e in store.inspection_events(conn=db, inspection_id=iid)
            if e.event.startswith("parts_")]


def test_kits_come_from_the_warehouse_serving_the_site_once(db: psycopg.Connection) -> None:
    seed(db)
    _stock(db, suzhou=5, central=5)
    res = sync(conn=db, policy=POLICY, now=NOW, actor="planner")
    db.commit()
    r1, r3 = _hardware(db, "R1"), _hardware(db, "R3")  # S1 in Suzhou, S2 in Wuxi
    assert res.reserved >= 2 and res.short == 0
    assert (r1.parts_warehouse, r3.parts_warehouse) == ("SUZHOU", "CENTRAL")
    assert r1.parts_reserved_at == NOW and r1.parts_shortage is None
    reqs, _ = list_requisitions(conn=db, work_order=work_order(r1.id))
    assert [(q.part, q.quantity, q.state, q.warehouse) for q in reqs] == [
        ("GREASE-400", 1, "approved", "SUZHOU")]
    assert _available(db, "SUZHOU") == 5 - 2  # R1 and R2 share the Suzhou visit
    assert _events(db, r1.id) == [RESERVED]
    # Planning again reserves nothing twice.
    again = sync(conn=db, policy=POLICY, now=NOW + timedelta(hours=1), actor="planner")
    db.commit()
    assert again.reserved == 0 and _available(db, "SUZHOU") == 3


def test_a_shortage_is_an_event_and_is_tried_again(db: psycopg.Connection,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    seed(db)
    _stock(db, suzhou=1, central=0)
    with caplog.at_level(logging.WARNING, logger="maintenance.reserve"):
        res = sync(conn=db, policy=POLICY, now=NOW, actor="planner")
    db.commit()
    assert res.reserved == 1 and res.short == 2  # one tube for R1 / R2; none for R3
    rows = [_hardware(db, r) for r in ("R1", "R2", "R3")]
    short = [r for r in rows if r.parts_shortage is not None]
    assert len(short) == 2 and all("available" in r.parts_shortage for r in short)  # type: ignore[operator]
    assert all(_events(db, r.id) == [SHORTAGE] for r in short)
    data = store.inspection_events(conn=db, inspection_id=short[0].id)[-1].data
    assert data["warehouse"] in ("SUZHOU", "CENTRAL") and "GREASE-400" in data["reason"]
    assert sum("parts not reserved" in m for m in caplog.messages) == 2
    # The same shortage is not announced again; stock arriving ends it at the next pass.
    sync(conn=db, policy=POLICY, now=NOW + timedelta(hours=1), actor="planner")
    assert all(_events(db, r.id) == [SHORTAGE] for r in short)
    receive(conn=db, part="GREASE-400", warehouse="SUZHOU", quantity=2, actor="keeper", at=NOW)
    receive(conn=db, part="GREASE-400", warehouse="CENTRAL", quantity=2, actor="keeper", at=NOW)
    res = sync(conn=db, policy=POLICY, now=NOW + timedelta(hours=2), actor="planner")
    db.commit()
    assert res.reserved == 2 and res.short == 0
    for r in short:
        now = store.get_inspection(conn=db, inspection_id=r.id)
        assert now is not None and now.parts_shortage is None and now.parts_reserved_at
        assert _events(db, r.id) == [SHORTAGE, RESERVED]


def test_cancel_and_reschedule_give_the_kit_back(db: psycopg.Connection) -> None:
    seed(db)
    _stock(db, suzhou=5, central=5)
    sync(conn=db, policy=POLICY, now=NOW, actor="planner")
    db.commit()
    r3 = _hardware(db, "R3")
    cancel(conn=db, inspection_id=r3.id, reason="robot sold", actor="manager", now=NOW)
    db.commit()
    assert _available(db, "CENTRAL") == 5
    reqs, _ = list_requisitions(conn=db, work_order=work_order(r3.id))
    assert [q.state for q in reqs] == ["cancelled"]
    assert _events(db, r3.id) == [RESERVED, RELEASED]

    # Suzhou runs production Monday to Wednesday round the clock this week: the visit moves
    # to Thursday's night, and the kit is given back and reserved again for it.
    busy = SiteWindows(production=(
        ShiftDef(weekdays=(0, 1, 2, 3, 4, 5), start=time(6), end=time(22)),
        ShiftDef(weekdays=(0, 1, 2), start=time(0), end=time(0))))
    moved_policy = POLICY.model_copy(update={"sites": {"S1": busy}})
    r1 = _hardware(db, "R1")
    old, _ = list_requisitions(conn=db, work_order=work_order(r1.id))
    sync(conn=db, policy=moved_policy, now=NOW + timedelta(hours=1), actor="planner")
    db.commit()
    moved = _hardware(db, "R1")
    assert moved.window_start is not None and r1.window_start is not None
    assert moved.window_start > r1.window_start
    assert _events(db, r1.id) == [RESERVED, RELEASED, RESERVED]
    reqs, _ = list_requisitions(conn=db, work_order=work_order(r1.id))
    assert {q.id: q.state for q in reqs} == {
        **{q.id: "cancelled" for q in old},
        **{q.id: "approved" for q in reqs if q.id not in {o.id for o in old}}}
    assert _available(db, "SUZHOU") == 3
