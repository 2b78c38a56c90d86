"""``/api/v1/maintenance``: stored work orders with their reasons, and the calendar feed parsed
back with the icalendar package."""

from __future__ import annotations

import httpx
import psycopg
from icalendar import Calendar

from maintenance.policy import builtin_policy
from maintenance.service import sync
from tests.maintenance.fleet import NOW, seed


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
