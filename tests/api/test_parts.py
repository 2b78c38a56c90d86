"""``/api/v1/parts`` through a real server: who may do what (the access policy's parts
rights and ticket reach), a customer viewer's narrow view, and refusals as problem details."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from websockets.sync.client import connect

from parts.stock import receive, set_safety
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW
from tests.api.test_stream import _wait_listening, _ws_url
from tests.parts.world import build


@pytest.fixture
def people(db: psycopg.Connection, base_url: str) -> Iterator[dict[str, httpx.Client]]:
    world = build(db)
    # The old robot's ticket is the engineer's; the new robot's is nobody's yet.
    db.execute("UPDATE tickets SET assignee_id = (SELECT id FROM engineers WHERE code = 'E-01')"
               " WHERE id = %s", (world.tickets["R-OLD"],))
    db.commit()
    tokens = {
        "keeper": token_for(db, "keeper", "parts_keeper"),
        "eng": token_for(db, "eng1", "engineer", engineer="E-01"),
        "old": token_for(db, "old-viewer", "customer_viewer", customer="OLD1"),
        "new": token_for(db, "new-viewer", "customer_viewer", customer="NEW1"),
    }
    clients = {who: httpx.Client(base_url=base_url, timeout=10, headers=bearer(t))
               for who, t in tokens.items()}
    clients["tickets"] = world.tickets  # type: ignore[assignment]
    try:
        yield clients
    finally:
        for who, c in clients.items():
            if who != "tickets":
                c.close()


def test_a_requisition_through_the_api(people: dict[str, httpx.Client]) -> None:
    keeper, eng = people["keeper"], people["eng"]
    tickets: dict[str, int] = people["tickets"]  # type: ignore[assignment]
    r = keeper.post("/api/v1/parts/receipts",
                    json={"part": "GREASE", "warehouse": "SUZHOU", "quantity": 10})
    assert r.status_code == 201, r.text

    # The engineer asks for the ticket assigned to them, never for another one.
    r = eng.post("/api/v1/parts/requisitions", json={
        "part": "GREASE", "warehouse": "SUZHOU", "quantity": 6, "purpose": "regrease J3",
        "ticket_id": tickets["R-OLD"]})
    assert r.status_code == 201, r.text
    req = r.json()
    assert (req["robot"], req["customer"], req["in_warranty"], req["state"]) == (
        "R-OLD", "OLD1", False, "requested")
    r = eng.post("/api/v1/parts/requisitions", json={
        "part": "GREASE", "warehouse": "SUZHOU", "quantity": 1, "purpose": "x",
        "ticket_id": tickets["R-NEW"]})
    assert r.status_code == 403 and "reach" in r.json()["detail"]

    # Only the keeper approves and issues.
    url = f"/api/v1/parts/requisitions/{req['id']}/events"
    assert eng.post(url, json={"event": "approve"}).status_code == 403
    assert keeper.post(url, json={"event": "approve"}).json()["state"] == "approved"
    issued = keeper.post(url, json={"event": "issue"}).json()
    assert (issued["state"], issued["unit_price"], issued["charge"]) == (
        "issued", "120.50", "723.00")
    closed = keeper.post(url, json={"event": "return_unused", "quantity": 2}).json()
    assert (closed["state"], closed["charge"]) == ("closed", "482.00")
    assert [h["event"] for h in closed["history"]] == [
        "request", "approve", "issue", "return_unused"]

    # Refusals: the state forbids it (409), a detail is missing (422), too little stock (409).
    again = keeper.post(url, json={"event": "approve"})
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    r = eng.post("/api/v1/parts/requisitions", json={
        "part": "GREASE", "warehouse": "SUZHOU", "quantity": 7, "purpose": "more",
        "ticket_id": tickets["R-OLD"]})
    big = r.json()["id"]
    short = keeper.post(f"/api/v1/parts/requisitions/{big}/events", json={"event": "approve"})
    assert short.status_code == 409 and "7 wanted, 6 available" in short.json()["detail"]
    no_reason = keeper.post(f"/api/v1/parts/requisitions/{big}/events", json={"event": "reject"})
    assert no_reason.status_code == 422
    for price in ("NaN", "-1", "Infinity", "1.234", "abc"):
        bad = keeper.post("/api/v1/parts/catalogue", json={
            "code": "X-1", "name": "x", "unit_price": price, "origin": "genuine"})
        assert bad.status_code == 422, (price, bad.text)
    assert keeper.post("/api/v1/parts/catalogue", json={
        "code": "GREASE", "name": "x", "unit_price": "1", "origin": "genuine"}).status_code == 409
    unknown = keeper.post("/api/v1/parts/receipts",
                          json={"part": "NOPE", "warehouse": "SUZHOU", "quantity": 1})
    assert unknown.status_code == 404

    stock = keeper.get("/api/v1/parts/stock", params={"part": "GREASE"}).json()["items"]
    assert [(s["warehouse"], s["on_hand"]) for s in stock] == [("SUZHOU", 6)]
    kinds = [r["kind"] for r in keeper.get("/api/v1/parts/ledger").json()["items"]]
    assert kinds == ["receipt", "issue", "return"]


def test_a_customer_viewer_sees_its_own_requisitions_only(
    people: dict[str, httpx.Client],
) -> None:
    keeper, eng = people["keeper"], people["eng"]
    tickets: dict[str, int] = people["tickets"]  # type: ignore[assignment]
    keeper.post("/api/v1/parts/receipts",
                json={"part": "GREASE", "warehouse": "SUZHOU", "quantity": 3})
    req = eng.post("/api/v1/parts/requisitions", json={
        "part": "GREASE", "warehouse": "SUZHOU", "quantity": 1, "purpose": "regrease",
        "ticket_id": tickets["R-OLD"]}).json()
    old, new = people["old"], people["new"]
    assert old.get("/api/v1/parts/requisitions").json()["count"] == 1
    assert old.get(f"/api/v1/parts/requisitions/{req['id']}").status_code == 200
    assert new.get("/api/v1/parts/requisitions").json() == {"items": [], "count": 0}
    assert new.get(f"/api/v1/parts/requisitions/{req['id']}").status_code == 404
    assert new.get("/api/v1/parts/requisitions",
                   params={"customer": "OLD1"}).json()["count"] == 0
    for internal in ("stock", "ledger", "warnings", "catalogue"):
        assert new.get(f"/api/v1/parts/{internal}").status_code == 403
    assert new.post(f"/api/v1/parts/requisitions/{req['id']}/events",
                    json={"event": "approve"}).status_code == 403
    assert new.post("/api/v1/parts/receipts", json={
        "part": "GREASE", "warehouse": "SUZHOU", "quantity": 1}).status_code == 403


def test_low_stock_warnings_on_the_live_stream(
    people: dict[str, httpx.Client], base_url: str, db: psycopg.Connection
) -> None:
    """Raised and cleared warnings reach a role that reads parts, never a customer viewer."""
    keeper = people["keeper"]
    keeper.post("/api/v1/parts/receipts",
                json={"part": "GREASE", "warehouse": "SUZHOU", "quantity": 3})
    url = _ws_url(base_url)
    keeper_auth = {"Authorization": keeper.headers["Authorization"]}
    viewer_auth = {"Authorization": people["old"].headers["Authorization"]}
    with (connect(url, additional_headers=keeper_auth) as ws,
          connect(url, additional_headers=viewer_auth) as viewer):
        _wait_listening(base_url, clients=2)
        # Safety stock 5 with 3 on hand: raised; 4 more received: cleared.
        set_safety(conn=db, part="GREASE", warehouse="SUZHOU", safety_stock=5, at=NOW)
        db.commit()
        raised = json.loads(ws.recv(timeout=5))
        assert (raised["type"], raised["op"]) == ("part_warning", "insert")
        assert (raised["data"]["part"], raised["data"]["on_hand"],
                raised["data"]["safety_stock"]) == ("GREASE", 3, 5)
        receive(conn=db, part="GREASE", warehouse="SUZHOU", quantity=4, actor="k", at=NOW)
        db.commit()
        cleared = json.loads(ws.recv(timeout=5))
        assert (cleared["type"], cleared["op"]) == ("part_warning", "update")
        assert cleared["data"]["cleared_at"] is not None
        with pytest.raises(TimeoutError):
            viewer.recv(timeout=1)


def test_warranty_and_quote_of_a_robot(people: dict[str, httpx.Client]) -> None:
    keeper = people["keeper"]
    # Installed 2026-05-20: in warranty at the API's clock (2026-11-21), all free.
    new = keeper.get("/api/v1/parts/warranty/R-NEW",
                     params={"part": "MOTOR-J3", "quantity": 1, "labour_minutes": 240}).json()
    assert (new["in_warranty"], new["warranty_end"], new["basis"], new["total"]) == (
        True, "2027-05-20", "install+12 months", "0.00")
    # Installed 2024-10-01: out of warranty; 2 x 120.50 and 90 minutes = 2 started hours.
    old = keeper.get("/api/v1/parts/warranty/R-OLD",
                     params={"part": "GREASE", "quantity": 2, "labour_minutes": 90}).json()
    assert (old["in_warranty"], old["parts"], old["labour"], old["total"], old["currency"]) == (
        False, "241.00", "700.00", "941.00", "CNY")
    assert keeper.get("/api/v1/parts/warranty/R-OLD",
                      params={"quantity": 2}).status_code == 422
    assert keeper.get("/api/v1/parts/warranty/R-NOPE").status_code == 404
    assert people["new"].get("/api/v1/parts/warranty/R-NEW").status_code == 200
    assert people["new"].get("/api/v1/parts/warranty/R-OLD").status_code == 404
