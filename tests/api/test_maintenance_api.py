"""``/api/v1/maintenance``: stored work orders with their reasons, the calendar feed parsed
back with the icalendar package, the acts on a work order by role, and inspection events on
the live stream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
import pytest
from icalendar import Calendar
from websockets.sync.client import connect

from maintenance.policy import builtin_policy
from maintenance.service import sync
from storage.maintenance import list_inspections
from tests.api.callers import bearer, token_for
from tests.api.test_stream import _wait_listening, _ws_url
from tests.maintenance.fleet import KIT_POLICY, NOW, seed


def test_inspections_and_the_calendar_feed(client: httpx.Client,
                                           db: psycopg.Connection) -> None:
    seed(db)
    sync(conn=db, policy=builtin_policy(), now=NOW, actor="test")
    db.commit()
    body = client.get("/api/v1/maintenance/inspections", params={"open": True}).json()
    assert body["count"] == len(body["items"]) > 0
    hw = next(i for i in body["items"] if i["robot"] == "R1" and i["plan"] == "hardware")
    assert hw["state"] == "scheduled" and hw["engineer"] == "li"
    assert hw["reason"].startswith("calendar: every 1 months")
    detail = client.get(f"/api/v1/maintenance/inspections/{hw['id']}").json()
    assert [e["event"] for e in detail["events"]] == ["create", "schedule"]
    assert client.get("/api/v1/maintenance/inspections/999999").status_code == 404

    resp = client.get("/api/v1/maintenance/calendar.ics", params={"engineer": "li"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(resp.content).walk("VEVENT")
    li = [i for i in body["items"] if i["engineer"] == "li" and i["window_start"]]
    assert len(events) == len(li) > 0
    assert {str(e.get("uid")) for e in events} == {f"inspection-{i['id']}@robowatch" for i in li}
    assert all(str(e.get("attendee")) == "urn:robowatch:engineer:li" for e in events)
    site = client.get("/api/v1/maintenance/calendar.ics", params={"site": "S2"})
    assert len(Calendar.from_ical(site.content).walk("VEVENT")) == sum(
        1 for i in body["items"] if i["site"] == "S2" and i["window_start"])


def test_bad_filters_are_422(client: httpx.Client) -> None:
    assert client.get("/api/v1/maintenance/calendar.ics",
                      params={"engineer": "bad code!"}).status_code == 422
    assert client.get("/api/v1/maintenance/inspections",
                      params={"limit": 0}).status_code == 422


def _as(base_url: str, db_url: str, role: str, customer: str | None = None) -> httpx.Client:
    with psycopg.connect(db_url) as conn:
        token = token_for(conn, f"{role}-{(customer or 'all').lower()}", role,
                          customer=customer)
    return httpx.Client(base_url=base_url, timeout=10, headers=bearer(token))


def test_start_complete_and_cancel_need_the_maintenance_right(
        base_url: str, db_url: str, db: psycopg.Connection) -> None:
    seed(db)
    sync(conn=db, policy=builtin_policy(), now=NOW, actor="test")
    db.commit()
    rows, _ = list_inspections(conn=db, open_only=True, robot="R1")
    hw = next(r for r in rows if r.plan == "hardware")
    r3 = next(r for r in list_inspections(conn=db, open_only=True, robot="R3")[0]
              if r.plan == "hardware")
    url = f"/api/v1/maintenance/inspections/{hw.id}/events"
    with (_as(base_url, db_url, "maintainer") as maintainer,
          _as(base_url, db_url, "dispatcher") as dispatcher,
          _as(base_url, db_url, "om_manager") as manager,
          _as(base_url, db_url, "customer_viewer", customer="ACME") as viewer):
        # Reading the plan is the maintenance scope's: a dispatcher has none.
        assert dispatcher.get("/api/v1/maintenance/inspections").status_code == 403
        assert viewer.get("/api/v1/maintenance/inspections").json()["count"] > 0
        assert viewer.post(url, json={"event": "start"}).status_code == 403
        assert maintainer.post(url, json={"event": "complete",
                                          "results": {"fans": "ok"}}).status_code == 409
        started = maintainer.post(url, json={"event": "start"})
        assert started.status_code == 200 and started.json()["state"] == "in_progress"
        assert maintainer.post(url, json={"event": "complete"}).status_code == 422
        done = maintainer.post(url, json={"event": "complete", "results": {"fans": "ok"},
                                          "counters": {"operating_hours": 900.0}})
        assert done.status_code == 200 and done.json()["state"] == "completed"
        assert [e["event"] for e in done.json()["events"]][-2:] == ["start", "complete"]
        cancel_r3 = f"/api/v1/maintenance/inspections/{r3.id}/events"
        assert maintainer.post(cancel_r3, json={"event": "cancel",
                                                "reason": "sold"}).status_code == 403
        assert manager.post(cancel_r3, json={"event": "cancel"}).status_code == 422
        gone = manager.post(cancel_r3, json={"event": "cancel", "reason": "robot sold"})
        assert gone.status_code == 200 and gone.json()["state"] == "cancelled"
        assert manager.post("/api/v1/maintenance/inspections/999999/events",
                            json={"event": "start"}).status_code == 404


def test_a_parts_shortage_reaches_maintenance_readers_on_the_live_stream(
        base_url: str, db_url: str, db: psycopg.Connection) -> None:
    seed(db)
    url = _ws_url(base_url)
    with (_as(base_url, db_url, "maintainer") as maintainer,
          _as(base_url, db_url, "dispatcher") as dispatcher,
          connect(url, additional_headers={"Authorization": maintainer.headers[
              "Authorization"]}) as ws,
          connect(url, additional_headers={"Authorization": dispatcher.headers[
              "Authorization"]}) as blind):
        _wait_listening(base_url, clients=2)
        # No warehouse is registered: the kits of this week's checks cannot be reserved.
        sync(conn=db, policy=KIT_POLICY, now=NOW, actor="test")
        db.commit()
        seen: list[dict[str, Any]] = []
        while not any(m["type"] == "inspection_event" and m["data"]["event"] == "parts_shortage"
                      for m in seen):
            seen.append(json.loads(ws.recv(timeout=5)))
        short = next(m for m in seen if m["type"] == "inspection_event"
                     and m["data"]["event"] == "parts_shortage")
        assert "reason" in short["data"]["data"] and short["data"]["inspection_id"] > 0
        with pytest.raises(TimeoutError):
            while True:  # the dispatcher sees no inspection event (nor anything else here)
                msg = json.loads(blind.recv(timeout=1))
                assert msg["type"] != "inspection_event", msg
