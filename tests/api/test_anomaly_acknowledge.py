"""The alert wall's shared acknowledgement: ``POST /api/v1/anomalies/{id}/acknowledge`` stores
who and when on the anomaly, the first acknowledgement stands, the other walls hear of it on
the live stream, and only roles with the ``alerts_acknowledge`` action may do it (real
PostgreSQL, real uvicorn, real WebSocket)."""

from __future__ import annotations

import httpx
import psycopg
from websockets.sync.client import connect

from tests.api.callers import bearer, token_for
from tests.api.seed import NOW, add_anomaly, seed_fleet
from tests.api.test_stream import _next, _wait_listening, _ws_url


def _ack(base_url: str, token: str, anomaly_id: int) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/anomalies/{anomaly_id}/acknowledge",
                      headers=bearer(token), timeout=10)


def test_acknowledgement_is_stored_and_streamed_to_every_wall(
    base_url: str, admin_token: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    anomaly_id = add_anomaly(db, robots)
    engineer = token_for(db, "li.wei", "engineer")
    dispatcher = token_for(db, "wang.fang", "dispatcher")
    with connect(_ws_url(base_url), additional_headers=bearer(admin_token)) as wall:
        _wait_listening(base_url, clients=1)
        resp = _ack(base_url, engineer, anomaly_id)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["acknowledged_by"] == "li.wei"
        assert body["acknowledged_at"].startswith(NOW.strftime("%Y-%m-%dT%H:%M:%S"))
        msg = _next(wall)  # the other wall hears of it without asking
        assert (msg["type"], msg["op"]) == ("anomaly", "update")
        assert msg["data"]["id"] == anomaly_id
        assert msg["data"]["acknowledged_by"] == "li.wei"

    # A second wall acknowledging late changes nothing: the first one stands.
    again = _ack(base_url, dispatcher, anomaly_id)
    assert again.status_code == 200 and again.json()["acknowledged_by"] == "li.wei"
    listed = httpx.get(f"{base_url}/api/v1/anomalies", params={"open": "true"},
                       headers=bearer(dispatcher), timeout=10).json()["items"]
    assert [(a["id"], a["acknowledged_by"]) for a in listed] == [(anomaly_id, "li.wei")]


def test_acknowledgement_is_refused_where_the_policy_says(
    base_url: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    own = add_anomaly(db, robots)
    viewer = token_for(db, "acme.viewer", "customer_viewer", customer="ACME")
    admin = token_for(db, "root", "admin")
    manager = token_for(db, "boss", "om_manager")
    # The customer sees the alert but acknowledging is the service team's act.
    assert _ack(base_url, viewer, own).status_code == 403
    assert _ack(base_url, admin, own).status_code == 403
    missing = _ack(base_url, manager, own + 1000)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    row = db.execute("SELECT acknowledged_at, acknowledged_by FROM anomalies WHERE id = %s",
                     (own,)).fetchone()
    assert row == (None, None)
