"""Working a ticket through the API: every step by the role the access policy names, with
optimistic versions (409, never a silent overwrite), against real PostgreSQL and uvicorn."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.callers import bearer, token_for
from tests.api.seed import seed_fleet

REPORT = {"process": "remote session, then on site", "cause": "worn J3 brake",
          "solution": "brake replaced", "parts_used": ["brake B-7"],
          "before_after": "J3 temperature 92 -> 61 degC"}


@pytest.fixture
def people(db: psycopg.Connection) -> dict[str, dict[str, str]]:
    """Signed-in users of each role that works a ticket, with their Authorization headers."""
    seed_fleet(db)
    db.execute("INSERT INTO engineers (code, name, role, city) VALUES "
               "('E-1', 'Chen Hao', 'engineer', 'Wuhan'), "
               "('E-2', 'Zhao Min', 'engineer', 'Wuhan'), "
               "('M-1', 'Wang Li', 'manager', 'Wuhan')")
    db.commit()
    return {
        "dispatcher": bearer(token_for(db, "disp", "dispatcher")),
        "engineer": bearer(token_for(db, "chen", "engineer", engineer="E-1")),
        "other_engineer": bearer(token_for(db, "zhao", "engineer", engineer="E-2")),
        "manager": bearer(token_for(db, "wang", "om_manager", engineer="M-1")),
        "customer": bearer(token_for(db, "acme", "customer_viewer", customer="ACME")),
        "foreign": bearer(token_for(db, "beta", "customer_viewer", customer="BETA")),
    }


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=20) as c:
        yield c


def _report(api: httpx.Client, who: dict[str, str], **body: Any) -> httpx.Response:
    payload = {"robot": "R-0001", "channel": "phone", "reporter": "line lead Li",
               "description": "J3 overheats, robot stops", "impact": "core-module",
               "request": "engineer on site today"} | body
    return api.post("/api/v1/tickets", json=payload, headers=who)


def _event(api: httpx.Client, who: dict[str, str], ticket: dict[str, Any], event: str,
           **details: Any) -> httpx.Response:
    return api.post(f"/api/v1/tickets/{ticket['id']}/events", headers=who,
                    json={"event": event, "expected_version": ticket["version"], **details})


def test_a_ticket_worked_from_report_to_archive(api, people) -> None:
    created = _report(api, people["dispatcher"])
    assert created.status_code == 201, created.text
    t = created.json()
    assert (t["channel"], t["grade"], t["state"]) == ("phone", "II", "new")  # core x core-module
    assert created.headers["Location"] == f"/api/v1/tickets/{t['id']}"
    assert created.headers["ETag"] == f'"{t["version"]}"'
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("dispatcher", "dispatch", {"assignee": "E-1"}),
        ("engineer", "accept", {}),
        ("engineer", "start_remote", {}),
        ("engineer", "submit_plan", {"plan": "replace the J3 brake tonight"}),
        ("engineer", "send_update", {"message": "brake ordered, fitting at 20:00"}),
        ("engineer", "wait_customer", {"reason": "line must stop before work"}),
        ("engineer", "resume", {}),
        ("engineer", "resolve", {"report": REPORT}),
        ("customer", "sign_off", {}),
        ("dispatcher", "archive", {}),
    ]
    for who, event, details in steps:
        before = t["version"]
        resp = _event(api, people[who], t, event, **details)
        assert resp.status_code == 200, f"{event}: {resp.text}"
        t = resp.json()
        assert t["version"] == before + 1 and resp.headers["ETag"] == f'"{t["version"]}"'
    assert t["state"] == "archived" and t["assignee"] == "E-1"
    history = [(e["event"], e["actor"]) for e in t["events"]]
    assert [e for e, _ in history][-len(steps):] == [s[1] for s in steps]
    assert ("accept", "chen") in history and ("sign_off", "acme") in history


def test_two_people_at_once_one_wins_the_other_gets_409(api, people) -> None:
    t = _report(api, people["dispatcher"]).json()
    barrier = threading.Barrier(2)
    results: list[httpx.Response] = []

    def act(who: str, assignee: str) -> None:
        barrier.wait()
        results.append(_event(api, people[who], t, "dispatch", assignee=assignee))

    threads = [threading.Thread(target=act, args=("dispatcher", "E-1")),
               threading.Thread(target=act, args=("manager", "E-2"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    lost = next(r for r in results if r.status_code == 409)
    assert lost.headers["content-type"].startswith("application/problem+json")
    problem = lost.json()
    assert problem["state"] == "dispatched" and problem["version"] == t["version"] + 1
    won = next(r for r in results if r.status_code == 200).json()
    current = api.get(f"/api/v1/tickets/{t['id']}", headers=people["dispatcher"]).json()
    assert current["assignee"] == won["assignee"]  # the winner's change stands, not both


def test_version_is_required_and_if_match_works(api, people) -> None:
    t = _report(api, people["dispatcher"]).json()
    url = f"/api/v1/tickets/{t['id']}/events"
    body = {"event": "dispatch", "assignee": "E-1"}
    missing = api.post(url, json=body, headers=people["dispatcher"])
    assert missing.status_code == 428 and missing.json()["version"] == t["version"]
    ok = api.post(url, json=body, headers={**people["dispatcher"],
                                           "If-Match": f'"{t["version"]}"'})
    assert ok.status_code == 200 and ok.json()["state"] == "dispatched"


def test_refusals_say_why(api, people) -> None:
    t = _report(api, people["dispatcher"]).json()
    wrong_state = _event(api, people["dispatcher"], t, "archive")
    assert wrong_state.status_code == 409 and wrong_state.json()["state"] == "new"
    no_assignee = _event(api, people["dispatcher"], t, "dispatch")
    assert no_assignee.status_code == 422 and "assignee" in no_assignee.json()["detail"]
    unknown = _event(api, people["dispatcher"], t, "teleport")
    assert unknown.status_code == 422
    extra = api.post(f"/api/v1/tickets/{t['id']}/events", headers=people["dispatcher"],
                     json={"event": "dispatch", "expected_version": 1, "assignee": "E-1",
                           "colour": "red"})
    assert extra.status_code == 422
    t = _event(api, people["dispatcher"], t, "dispatch", assignee="E-1").json()
    # Engineers act on their own tickets only; a customer sees only its own.
    assert _event(api, people["other_engineer"], t, "accept").status_code == 403
    assert _event(api, people["foreign"], t, "sign_off").status_code == 404
    assert _event(api, people["customer"], t, "accept").status_code == 403
    # The role policy: customers report through customer service.
    assert _report(api, people["customer"]).status_code == 403
    assert _report(api, people["dispatcher"], robot="R-9999").status_code == 404
    # Nothing of the refused attempts was written.
    after = api.get(f"/api/v1/tickets/{t['id']}", headers=people["dispatcher"]).json()
    assert after["version"] == t["version"] and after["state"] == "dispatched"
