"""After sales over HTTP against real PostgreSQL and uvicorn: feedback registered and worked by
the roles the access policy names, the customer's single-use survey link without a login, a
root-cause report refused when none is owed, and a quality-control draw."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import psycopg
import pytest

from storage.connect import connect
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW, seed_fleet
from ticketing.duty import put_roster_in_force, round_the_clock
from ticketing.events import apply, create_manual_ticket
from ticketing.policy import builtin_policy

POLICY = builtin_policy("default")
REPORT = {"process": "remote", "cause": "loose cable", "solution": "cable fixed",
          "parts_used": "none", "before_after": "no alarm"}


@pytest.fixture
def people(db: psycopg.Connection) -> dict[str, dict[str, str]]:
    seed_fleet(db)
    db.execute("INSERT INTO engineers (code, name, role, city) VALUES "
               "('E-1', 'Chen Hao', 'engineer', 'Wuhan')")
    put_roster_in_force(conn=db, roster=round_the_clock({"engineer": ("E-1",)}))
    db.commit()
    return {
        "dispatcher": bearer(token_for(db, "disp", "dispatcher")),
        "manager": bearer(token_for(db, "wang", "om_manager")),
        "engineer": bearer(token_for(db, "chen", "engineer", engineer="E-1")),
        "customer": bearer(token_for(db, "acme", "customer_viewer", customer="ACME")),
    }


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        yield c


def completed_ticket(db_url: str) -> int:
    """A ticket signed off an hour before the API's clock: its callback survey is open."""
    at = NOW - timedelta(hours=3)
    with connect(db_url, autocommit=True) as conn:
        t = create_manual_ticket(conn=conn, robot="R-0001", channel="phone", reporter="lead",
                                 description="cable alarm", impact="minor", request=None,
                                 actor="cs", now=at, policy=POLICY, kind="cable_fault")
        steps: list[tuple[str, dict[str, object]]] = [
            ("dispatch", {"assignee": "E-1"}), ("accept", {}), ("start_remote", {}),
            ("resolve", {"report": REPORT}), ("sign_off", {})]
        for n, (event, details) in enumerate(steps):
            apply(conn=conn, ticket_id=t.id, event=event, actor="cs", expected_version=None,
                  now=at + timedelta(minutes=20 * (n + 1)), policy=POLICY, **details)
        return t.id


def test_feedback_is_registered_and_worked_by_the_roles_the_policy_names(http, people):
    body = {"customer": "ACME", "category": "service_process", "urgency": "urgent",
            "channel": "phone", "reporter": "plant manager", "summary": "engineer rude"}
    assert http.post("/api/v1/feedback", json=body,
                     headers=people["engineer"]).status_code == 403
    created = http.post("/api/v1/feedback", json=body, headers=people["dispatcher"])
    assert created.status_code == 201, created.text
    rec = created.json()
    assert rec["number"] == "FB-20261121-0001" and rec["state"] == "received"
    assert {c["clock"] for c in rec["clocks"]} == {"plan", "solve"}
    url = f"/api/v1/feedback/{rec['id']}/events"
    no_version = http.post(url, json={"event": "route"}, headers=people["dispatcher"])
    assert no_version.status_code == 428
    routed = http.post(url, json={"event": "route", "expected_version": 1},
                       headers=people["dispatcher"])
    assert routed.status_code == 200 and routed.json()["department"] == \
        "customer service/business"
    stale = http.post(url, json={"event": "confirm", "expected_version": 1},
                      headers=people["dispatcher"])
    assert stale.status_code == 409 and stale.json()["version"] == 2
    decide = http.post(url, json={"event": "approve_extension", "expected_version": 2,
                                  "notice": "told"}, headers=people["dispatcher"])
    assert decide.status_code == 403                       # the customer-service head's
    nothing = http.post(url, json={"event": "approve_extension", "expected_version": 2,
                                   "notice": "told"}, headers=people["manager"])
    assert nothing.status_code == 409 and "no extension" in nothing.json()["detail"]
    missing = http.post(url, json={"event": "reroute", "expected_version": 2,
                                   "department": "technical/project"},
                        headers=people["dispatcher"])
    assert missing.status_code == 422 and "reason" in missing.json()["detail"]
    listed = http.get("/api/v1/feedback?kind=feedback", headers=people["manager"]).json()
    assert listed["count"] == 1 and listed["data"][0]["version"] == 2
    assert http.get("/api/v1/feedback", headers=people["customer"]).status_code == 403
    complaint = http.post("/api/v1/feedback", json={**body, "kind": "complaint"},
                          headers=people["dispatcher"]).json()
    assert complaint["number"].startswith("CP-")
    assert {c["clock"] for c in complaint["clocks"]} == {"respond", "answer"}


def test_the_customer_answers_the_survey_once_through_the_link(http, people, db_url):
    ticket_id = completed_ticket(db_url)
    link = http.post(f"/api/v1/tickets/{ticket_id}/callback/link",
                     headers=people["dispatcher"])
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert http.get(url).json()["scores"] == [1, 2, 3, 4, 5]       # no login
    bad = http.post(url, json={"score": 7})
    assert bad.status_code == 422
    done = http.post(url, json={"score": 2, "suggestions": "slow to arrive"})
    assert done.status_code == 201, done.text
    again = http.post(url, json={"score": 5})
    assert again.status_code == 404 and again.headers["content-type"].startswith(
        "application/problem+json")
    assert http.get(url).status_code == 404
    cb = http.get(f"/api/v1/tickets/{ticket_id}/callback", headers=people["manager"]).json()
    assert cb["score"] == 2 and cb["via"] == "link" and cb["follow_up_id"] is not None
    follow = http.get(f"/api/v1/feedback/{cb['follow_up_id']}", headers=people["manager"])
    assert follow.json()["channel"] == "callback"
    rca = http.post(f"/api/v1/tickets/{ticket_id}/rca", headers=people["engineer"], json={
        "category": "installation", "cause": "c", "lessons": "l", "gaps": "g",
        "actions": ["a"]})
    assert rca.status_code == 409        # grade IV, not a repeat: no report owed
    draw = http.post("/api/v1/qc/draws", headers=people["manager"], json={
        "since": (NOW - timedelta(days=1)).isoformat(), "until": NOW.isoformat(), "seed": 1})
    assert draw.status_code == 201, draw.text
    assert draw.json()["population"] == 1 and [c["ticket_id"] for c in
                                                draw.json()["checks"]] == [ticket_id]
    checked = http.post(f"/api/v1/qc/draws/{draw.json()['id']}/checks/{ticket_id}",
                        headers=people["manager"], json={"result": "pass"})
    assert checked.json()["checks"][0]["result"] == "pass"
    assert http.post("/api/v1/qc/draws", headers=people["dispatcher"], json={
        "since": NOW.isoformat(), "until": NOW.isoformat(), "seed": 1}).status_code == 403
