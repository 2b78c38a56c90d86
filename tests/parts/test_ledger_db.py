"""The count cannot drift from the ledger, and the last unit goes to one taker only: the
database's guards hammered from several connections at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from parts.errors import OutOfStock
from parts.requisitions import act, request
from parts.stock import part_named, purchase, receive, warehouse_named
from storage.parts import StockShortage, ledger, ledger_drift, record_move, stock_levels
from tests.parts.world import POLICY, T0, build

TAKERS = 8


def _race(db_url: str, work: Callable[[psycopg.Connection, int], None]) -> list[str]:
    """Run ``work`` on ``TAKERS`` connections released together; each one's outcome."""
    barrier = threading.Barrier(TAKERS)
    outcomes: list[str] = [""] * TAKERS

    def run(i: int) -> None:
        with psycopg.connect(db_url) as conn:
            barrier.wait()
            try:
                work(conn, i)
                conn.commit()
                outcomes[i] = "won"
            except (OutOfStock, StockShortage):
                conn.rollback()
                outcomes[i] = "refused"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(TAKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_concurrent_requisitions_of_the_last_unit(db: psycopg.Connection, db_url: str) -> None:
    world = build(db)
    receive(conn=db, part="GREASE", warehouse="SUZHOU", quantity=1, actor="k", at=T0)
    reqs = [request(conn=db, part="GREASE", warehouse="SUZHOU", quantity=1, purpose="grease",
                    ticket_id=world.tickets["R-OLD"], actor="e", at=T0, policy=POLICY).id
            for _ in range(TAKERS)]
    db.commit()

    def approve_and_issue(conn: psycopg.Connection, i: int) -> None:
        act(conn=conn, requisition_id=reqs[i], event="approve", actor="k", at=T0)
        act(conn=conn, requisition_id=reqs[i], event="issue", actor="k", at=T0)

    outcomes = _race(db_url, approve_and_issue)
    assert sorted(outcomes) == ["refused"] * (TAKERS - 1) + ["won"]
    (stock,) = stock_levels(conn=db, part="GREASE", warehouse="SUZHOU")
    assert (stock.on_hand, stock.reserved) == (0, 0)
    assert [r.kind for r in ledger(conn=db)] == ["receipt", "issue"]
    assert ledger_drift(conn=db) == []


def test_the_database_refuses_negative_stock_without_the_service(
    db: psycopg.Connection, db_url: str
) -> None:
    """Straight ledger rows, no availability check in Python: the CHECK on the count, under
    the stock row's lock, is what lets exactly one of them through."""
    build(db)
    receive(conn=db, part="GREASE", warehouse="SUZHOU", quantity=1, actor="k", at=T0)
    db.commit()
    (stock,) = stock_levels(conn=db, part="GREASE", warehouse="SUZHOU")

    def scrap_one(conn: psycopg.Connection, i: int) -> None:
        record_move(conn=conn, at=T0, part_id=stock.part_id, warehouse_id=stock.warehouse_id,
                    quantity=-1, kind="scrap", actor=f"taker-{i}")

    outcomes = _race(db_url, scrap_one)
    assert sorted(outcomes) == ["refused"] * (TAKERS - 1) + ["won"]
    assert stock_levels(conn=db, part="GREASE", warehouse="SUZHOU")[0].on_hand == 0
    assert ledger_drift(conn=db) == []


@pytest.mark.parametrize("statement", [
    "UPDATE part_stock SET on_hand = on_hand + 5",
    "INSERT INTO part_stock (part_id, warehouse_id, on_hand) "
    "SELECT p.id, w.id, 7 FROM part_catalogue p, warehouses w "
    "WHERE p.code = 'MOTOR-J3' AND w.code = 'CENTRAL'",
    "DELETE FROM part_stock",
    "UPDATE part_ledger SET quantity = quantity + 1",
    "DELETE FROM part_ledger",
    "TRUNCATE part_ledger CASCADE",
    "TRUNCATE part_stock",
])
def test_the_count_follows_the_ledger_only(db: psycopg.Connection, statement: str) -> None:
    build(db)
    receive(conn=db, part="GREASE", warehouse="SUZHOU", quantity=4, actor="k", at=T0)
    db.commit()
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="refused"):
        db.execute(statement)
    db.rollback()
    assert stock_levels(conn=db, part="GREASE", warehouse="SUZHOU")[0].on_hand == 4
    assert ledger_drift(conn=db) == []


def test_a_move_of_the_wrong_sign_is_refused(db: psycopg.Connection) -> None:
    build(db)
    receive(conn=db, part="GREASE", warehouse="SUZHOU", quantity=4, actor="k", at=T0)
    (stock,) = stock_levels(conn=db, part="GREASE", warehouse="SUZHOU")
    with pytest.raises(psycopg.errors.CheckViolation):
        record_move(conn=db, at=T0, part_id=stock.part_id, warehouse_id=stock.warehouse_id,
                    quantity=5, kind="scrap", actor="k")


def test_a_serialised_count_and_its_shelf_agree_at_every_commit(db: psycopg.Connection) -> None:
    build(db)
    part_id = part_named(db, "MOTOR-J3").id
    wh = warehouse_named(db, "CENTRAL")
    # A count without serials (the service would refuse; the database refuses at commit).
    record_move(conn=db, at=T0, part_id=part_id, warehouse_id=wh, quantity=1, kind="receipt",
                actor="k")
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation,
                       match="count 1 but 0 serial"):
        db.commit()
    # A serial taken off the shelf behind the ledger's back.
    purchase(conn=db, part="MOTOR-J3", serials=["S1"], order="PO", actor="k", at=T0)
    receive(conn=db, part="MOTOR-J3", warehouse="CENTRAL", quantity=1, serials=["S1"],
            actor="k", at=T0)
    db.commit()
    db.execute("UPDATE part_serials SET state = 'scrapped', warehouse_id = NULL")
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation,
                       match="count 1 but 0 serial"):
        db.commit()
    assert stock_levels(conn=db, part="MOTOR-J3")[0].on_hand == 1
