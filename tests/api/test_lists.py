"""The list contract on every list (docs/api.md "Lists"): enumerations refused as 422
problems, sorting (ticket urgency from the SLA clocks), ticket numbers wherever an id goes,
codes in any case, and the organisation lists with their customer binding."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import httpx
import psycopg

from api import create_app
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW, add_anomaly, add_ticket, seed_fleet
from tests.api.server import serve_in_thread
from ticketing.duty import put_roster_in_force

ROSTER = Path(__file__).parents[2] / "robowatch" / "demo_roster.toml"


def _ids(client: httpx.Client, path: str, **params: str | int) -> list[int | str]:
    resp = client.get(path, params=params)
    assert resp.status_code == 200, resp.text
    return [i.get("id", i.get("code")) for i in resp.json()["items"]]


INVALID: list[tuple[str, dict[str, str | int]]] = [
    ("/api/v1/tickets", {"state": "foo"}),
    ("/api/v1/tickets", {"grade": "V"}),
    ("/api/v1/tickets", {"sort": "title"}),
    ("/api/v1/tickets", {"assignee": "a b"}),
    ("/api/v1/anomalies", {"impact": "huge"}),
    ("/api/v1/anomalies", {"sort": "id; DROP TABLE tickets"}),
    ("/api/v1/anomalies", {"ticket": "RW-1"}),
    ("/api/v1/robots", {"sort": "serial"}),
    ("/api/v1/customers", {"tier": "gold"}),
    ("/api/v1/sites", {"limit": 0}),
    ("/api/v1/lines", {"offset": -1}),
    ("/api/v1/engineers", {"sort": "salary"}),
    ("/api/v1/oncall", {"at": "yesterday"}),
    ("/api/v1/oncall", {"at": "2026-11-21T12:00:00"}),
]


def test_invalid_values_are_422_problems(client: httpx.Client, db: psycopg.Connection) -> None:
    seed_fleet(db)
    for path, params in INVALID:
        resp = client.get(path, params=params)
        assert resp.status_code == 422, (path, params, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        body = resp.json()
        assert body["status"] == 422 and body["title"] == HTTPStatus(422).phrase
        assert body["instance"] == path and body["detail"], body


def test_enumerations_are_enums_in_openapi(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/tickets"]["get"]["parameters"]}
    state = params["state"]["anyOf"][0]
    assert "pattern" not in state and "waiting_customer" in state["enum"]
    assert "urgency" in params["sort"]["enum"]
    problem = spec["paths"]["/api/v1/tickets"]["get"]["responses"]["422"]["content"]
    assert "application/problem+json" in problem


def test_tickets_by_urgency(client: httpx.Client, db: psycopg.Connection) -> None:
    robots = seed_fleet(db)
    # Grade III breached an hour ago; grade I with 3 h left; grade II with 3 h left too (the
    # grade decides); grade IV with 1 h left; one closed.
    breached = add_ticket(db, robots, grade="III", kind="a", created_at=NOW - timedelta(hours=3),
                          respond_in=timedelta(hours=2))
    g1 = add_ticket(db, robots, grade="I", kind="b", respond_in=timedelta(hours=4))
    g2 = add_ticket(db, robots, grade="II", kind="c", respond_in=timedelta(hours=4))
    soon = add_ticket(db, robots, grade="IV", kind="d", respond_in=timedelta(hours=2))
    closed = add_ticket(db, robots, grade="I", kind="e", respond_in=timedelta(minutes=5))
    db.execute("UPDATE tickets SET state = 'archived', closed_at = %s WHERE id = %s",
               (NOW, closed.id))
    db.commit()
    assert _ids(client, "/api/v1/tickets", sort="urgency") == [
        breached.id, soon.id, g1.id, g2.id, closed.id]
    assert _ids(client, "/api/v1/tickets", sort="urgency", open="true", limit=2, offset=1) == [
        soon.id, g1.id]
    assert client.get("/api/v1/tickets", params={"sort": "urgency"}).json()["count"] == 5
    assert _ids(client, "/api/v1/tickets", sort="grade")[:2] == [closed.id, g1.id]


def test_ticket_number_works_wherever_an_id_does(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    ticket = add_ticket(db, robots)
    anomaly = add_anomaly(db, robots)
    db.execute("UPDATE anomalies SET ticket_id = %s WHERE id = %s", (ticket.id, anomaly))
    db.commit()
    assert ticket.number.startswith("RW-")
    for ref in (ticket.number, ticket.number.lower(), str(ticket.id)):
        resp = client.get(f"/api/v1/tickets/{ref}")
        assert resp.status_code == 200 and resp.json()["id"] == ticket.id, ref
    assert _ids(client, "/api/v1/anomalies", ticket=ticket.number) == [anomaly]
    missing = client.get("/api/v1/tickets/RW-20261121-9999")
    assert missing.status_code == 404 and "RW-20261121-9999" in missing.json()["detail"]
    # The events endpoint takes the number too (403: an administrator has no ticket events).
    resp = client.post(f"/api/v1/tickets/{ticket.number}/events",
                       json={"event": "accept", "expected_version": 1})
    assert resp.status_code == 403


def test_codes_match_in_any_case(client: httpx.Client, db: psycopg.Connection) -> None:
    robots = seed_fleet(db)
    ticket = add_ticket(db, robots, robot="R-0002")
    add_anomaly(db, robots, robot="R-0002")
    assert _ids(client, "/api/v1/tickets", robot="r-0002") == [ticket.id]
    assert len(_ids(client, "/api/v1/anomalies", robot="r-0002")) == 1
    assert client.get("/api/v1/robots/r-0002").json()["code"] == "R-0002"
    assert _ids(client, "/api/v1/robots", customer="acme") == ["R-0001", "R-0002"]
    assert _ids(client, "/api/v1/robots", q="beta") == ["R-0003"]
    assert _ids(client, "/api/v1/robots", sort="-code", limit=1) == ["R-0003"]


def test_organisation_lists(client: httpx.Client, db: psycopg.Connection) -> None:
    seed_fleet(db)
    db.execute("INSERT INTO engineers (code, name, role, city, skills) VALUES "
               "('E-101', '王伟', 'engineer', 'Suzhou', '{kuka}'), "
               "('E-102', '李娜', 'engineer', 'Wuxi', '{abb}')")
    db.commit()
    customers = client.get("/api/v1/customers").json()
    assert customers["count"] == 2
    assert customers["items"][0] == {"code": "ACME", "name": "Acme Cars", "tier": "core",
                                     "city": "Wuhan", "sites": 1, "robots": 2}
    assert _ids(client, "/api/v1/customers", tier="ordinary") == ["BETA"]
    assert client.get("/api/v1/customers/acme").json()["code"] == "ACME"
    assert client.get("/api/v1/customers/NOPE").status_code == 404
    assert _ids(client, "/api/v1/sites", sort="-code") == ["S1", "P1"]
    lines = client.get("/api/v1/lines", params={"customer": "BETA"}).json()["items"]
    assert [(x["code"], x["site"], x["robots"]) for x in lines] == [("L1", "S1", 1)]
    people = client.get("/api/v1/engineers", params={"skill": "abb"}).json()["items"]
    assert [(p["code"], p["name"]) for p in people] == [("E-102", "李娜")]
    assert _ids(client, "/api/v1/engineers", sort="-code") == ["E-102", "E-101"]


def test_customer_viewer_sees_its_own_only(
    base_url: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    db.execute("INSERT INTO engineers (code, name) VALUES ('E-101', 'A'), ('E-102', 'B')")
    ticket = add_ticket(db, robots, robot="R-0003", customer="BETA")
    db.execute("UPDATE tickets SET assignee_id = (SELECT id FROM engineers WHERE code = 'E-102') "
               "WHERE id = %s", (ticket.id,))
    db.commit()
    token = token_for(db, "beta-viewer", "customer_viewer", customer="BETA")
    with httpx.Client(base_url=base_url, headers=bearer(token), timeout=10) as viewer:
        assert _ids(viewer, "/api/v1/customers") == ["BETA"]
        assert viewer.get("/api/v1/customers/ACME").status_code == 404
        assert viewer.get("/api/v1/customers/BETA").status_code == 200
        assert _ids(viewer, "/api/v1/sites") == ["S1"]
        assert _ids(viewer, "/api/v1/sites", customer="ACME") == []
        assert _ids(viewer, "/api/v1/lines") == ["L1"]
        assert _ids(viewer, "/api/v1/robots") == ["R-0003"]
        assert viewer.get("/api/v1/robots/R-0001").status_code == 404
        assert _ids(viewer, "/api/v1/engineers") == ["E-102"]
        assert viewer.get(f"/api/v1/tickets/{ticket.number}").status_code == 200


def test_oncall_from_the_roster(db_url: str, db: psycopg.Connection) -> None:
    db.execute("INSERT INTO engineers (code, name, role) VALUES ('E-101', '王伟', 'engineer'), "
               "('E-102', '李娜', 'engineer'), ('E-103', '张磊', 'engineer'), "
               "('E-MGR-1', '陈静', 'manager')")
    put_roster_in_force(conn=db, roster=ROSTER, source="demo_roster.toml")
    db.commit()
    token = token_for(db, "admin", "admin")
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=2)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=bearer(token),
                                                   timeout=10) as c:
        # 2026-11-21 20:00 Asia/Shanghai: a night shift; the rota decides which crew.
        body = c.get("/api/v1/oncall").json()
        assert body["roster"] == "demo_roster.toml" and body["count"] >= 2
        assert "E-MGR-1" in [p["code"] for p in body["items"]]
        names = {p["code"]: p["name"] for p in body["items"]}
        assert names.get("E-MGR-1") == "陈静"
        engineers = c.get("/api/v1/oncall", params={"role": "engineer"}).json()["items"]
        assert engineers and all(p["role"] == "engineer" for p in engineers)
        later = c.get("/api/v1/oncall", params={"at": "2026-11-22T10:00:00+08:00",
                                                "role": "engineer"}).json()
        assert later["at"] == "2026-11-22T02:00:00Z"
        assert {p["code"] for p in later["items"]} != {p["code"] for p in engineers}


def test_robots_past_their_warranty_are_flagged(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    seed_fleet(db)
    # The clock is seed.NOW (2026-11-21): R-0001's warranty ended the day before.
    db.execute("UPDATE robots SET warranty_end = '2026-11-20' WHERE code = 'R-0001'")
    db.execute("UPDATE robots SET warranty_end = '2026-11-21' WHERE code = 'R-0002'")
    db.commit()
    flags = {r["code"]: r["under_warranty"]
             for r in client.get("/api/v1/robots").json()["items"]}
    assert flags == {"R-0001": False, "R-0002": True, "R-0003": None}
    assert _ids(client, "/api/v1/robots", under_warranty="false") == ["R-0001", "R-0003"]
    assert _ids(client, "/api/v1/robots", under_warranty="true") == ["R-0002"]
    assert client.get("/api/v1/robots/R-0001").json()["under_warranty"] is False
