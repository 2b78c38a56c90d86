"""Shift handovers through the API: listed, acknowledged once by the incoming shift, refused to
the leaving one and to customers (real PostgreSQL and uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time, timedelta

import httpx
import psycopg
import pytest

from storage.tickets import ticket_events
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW, seed_fleet
from ticketing.duty import fire_handovers, put_roster_in_force
from ticketing.roster import Roster, ShiftDef, TeamRota

# NOW is 12:00 UTC: E-1 works the morning (06-18), E-2 the night; the change is at 18:00.
ROSTER = Roster(teams=(TeamRota(
    name="field", role="engineer", timezone="UTC", epoch=date(2026, 1, 1),
    crews=(("E-1",), ("E-2",)),
    shifts=(ShiftDef(name="day", start=time(6), end=time(18)),
            ShiftDef(name="night", start=time(18), end=time(6)))),))
CHANGE = NOW + timedelta(hours=6)


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=20) as c:
        yield c


@pytest.fixture
def people(db: psycopg.Connection) -> dict[str, dict[str, str]]:
    seed_fleet(db)
    db.execute("INSERT INTO engineers (code, name, role, city) VALUES "
               "('E-1', 'Chen Hao', 'engineer', 'Wuhan'), ('E-2', 'Zhao Min', 'engineer', 'Wuhan')")
    put_roster_in_force(conn=db, roster=ROSTER)
    db.commit()
    return {
        "dispatcher": bearer(token_for(db, "disp", "dispatcher")),
        "leaving": bearer(token_for(db, "chen", "engineer", engineer="E-1")),
        "incoming": bearer(token_for(db, "zhao", "engineer", engineer="E-2")),
        "customer": bearer(token_for(db, "acme", "customer_viewer", customer="ACME")),
    }


def test_the_incoming_shift_acknowledges_what_the_leaving_one_hands_over(
        api, people, db) -> None:
    created = api.post("/api/v1/tickets", headers=people["dispatcher"], json={
        "robot": "R-0001", "channel": "phone", "reporter": "line lead",
        "description": "J3 overheats", "impact": "minor"})
    assert created.status_code == 201, created.text
    t = created.json()
    r = api.post(f"/api/v1/tickets/{t['id']}/events", headers=people["dispatcher"],
                 json={"event": "dispatch", "assignee": "E-1", "expected_version": t["version"]})
    assert r.status_code == 200, r.text
    db.commit()
    fire_handovers(conn=db, now=NOW)                 # the 18:00 change is scheduled
    [fired] = fire_handovers(conn=db, now=CHANGE)    # and fires at 18:00
    db.commit()
    assert fired.tickets and fired.leaving == ("E-1",)

    listed = api.get("/api/v1/handovers?pending=true", headers=people["incoming"])
    assert listed.status_code == 200, listed.text
    [h] = listed.json()
    assert (h["leaving"], h["incoming"], h["tickets"]) == (["E-1"], ["E-2"], [t["id"]])
    assert api.get("/api/v1/handovers", headers=people["customer"]).json() == []

    url = f"/api/v1/handovers/{h['id']}/acknowledge"
    refused = api.post(url, headers=people["leaving"])
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert api.post(url, headers=people["customer"]).status_code == 403
    done = api.post(url, headers=people["incoming"])
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by"] == "zhao"
    assert api.post(url, headers=people["dispatcher"]).status_code == 409
    assert api.post("/api/v1/handovers/999/acknowledge",
                    headers=people["incoming"]).status_code == 404
    assert api.get("/api/v1/handovers?pending=true", headers=people["incoming"]).json() == []
    history = [(e.event, e.actor) for e in ticket_events(conn=db, ticket_id=t["id"])
               if "handover" in e.event]
    assert history == [("handover", "system"), ("acknowledge_handover", "zhao")]
