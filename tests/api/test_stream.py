"""The WebSocket live stream under a real uvicorn, fed by real PostgreSQL NOTIFY."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.connection import Connection  # type of ``with connect(...) as ws``

from api import create_app
from tests.api.callers import bearer
from tests.api.seed import NOW, add_anomaly, add_ticket, seed_fleet
from tests.api.server import serve_in_thread


def _ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/api/v1/stream"


def _wait_listening(base_url: str, *, clients: int = 0, timeout: float = 10.0) -> None:
    # The relay LISTENs in the background; changes committed before that are not announced.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{base_url}/healthz", timeout=5).json()
        if body["stream"] == "listening" and body["stream_clients"] >= clients:
            return
        time.sleep(0.02)
    raise AssertionError(f"stream not listening with {clients} clients: {body}")


def _next(ws: Connection) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(ws.recv(timeout=5))
    return msg


@pytest.fixture
def stream(base_url: str, admin_token: str) -> Iterator[Connection]:
    with connect(_ws_url(base_url), additional_headers=bearer(admin_token)) as ws:
        _wait_listening(base_url, clients=1)
        yield ws


def test_inserted_anomaly_arrives_as_full_object(
    stream: Connection, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    anomaly_id = add_anomaly(db, robots, robot="R-0002")
    msg = _next(stream)
    assert msg["type"] == "anomaly" and msg["op"] == "insert"
    data = msg["data"]
    assert data["id"] == anomaly_id and data["robot_id"] == "R-0002"
    assert data["customer_id"] == "ACME" and data["kind"] == "overheating"
    assert data["signals"] == ["J3.temperature"] and data["open"] is True

    db.execute("UPDATE anomalies SET ended_at = %s WHERE id = %s", (NOW, anomaly_id))
    db.commit()
    msg = _next(stream)
    assert (msg["type"], msg["op"], msg["data"]["open"]) == ("anomaly", "update", False)


def test_new_ticket_reaches_every_client(
    base_url: str, admin_token: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    auth = bearer(admin_token)
    with (connect(_ws_url(base_url), additional_headers=auth) as a,
          connect(_ws_url(base_url), additional_headers=auth) as b):
        _wait_listening(base_url, clients=2)
        ticket = add_ticket(db, robots, grade="I")
        for ws in (a, b):
            msg = _next(ws)
            assert (msg["type"], msg["op"]) == ("ticket", "insert")
            data = msg["data"]
            assert data["id"] == ticket.id and data["number"] == ticket.number
            assert data["robot_id"] == "R-0001" and data["grade"] == "I"
            assert data["respond_remaining_s"] == 3600  # created 1 h before the fixed NOW
            # ... followed by the history entry, as warnings and escalations will be.
            history = _next(ws)
            assert (history["type"], history["op"]) == ("ticket_event", "insert")
            assert history["data"]["ticket_id"] == ticket.id
            assert history["data"]["event"] == "created"


def test_malformed_notification_is_skipped_and_stream_goes_on(
    stream: Connection, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    for junk in ("not json", '{"type": "robot", "op": "insert", "id": 1}',
                 '{"type": "ticket", "op": "insert", "id": "x"}',
                 '{"type": "anomaly", "op": "insert", "id": 987654}'):  # no such row
        db.execute("SELECT pg_notify('robowatch_events', %s)", (junk,))
    db.commit()
    anomaly_id = add_anomaly(db, robots)
    msg = _next(stream)
    assert msg["data"]["id"] == anomaly_id


def test_client_disconnect_is_clean_and_server_stops_with_clients(
    db_url: str, admin_token: str
) -> None:
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=2)
    auth = bearer(admin_token)
    with serve_in_thread(app) as base_url:
        with connect(_ws_url(base_url), additional_headers=auth):
            _wait_listening(base_url, clients=1)
        _wait_listening(base_url, clients=0)
        assert httpx.get(f"{base_url}/healthz").json()["stream_clients"] == 0
        staying = connect(_ws_url(base_url), additional_headers=auth)
        _wait_listening(base_url, clients=1)
    # Leaving serve_in_thread shut the server down with a client still connected.
    with pytest.raises(ConnectionClosed) as closed:
        staying.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code in (1001, 1012)


def test_relay_reconnects_and_relays_what_was_committed_meanwhile(
    stream: Connection, base_url: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    row = db.execute(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND query LIKE 'LISTEN%'"""
    ).fetchone()
    db.commit()
    assert row is not None and row[0] == 1
    # Committed while the relay may still be away: the stream log holds it, nothing is lost
    # and nobody needs to re-read.
    missed = add_anomaly(db, robots)
    assert _next(stream)["data"]["id"] == missed
    _wait_listening(base_url, clients=1)
    anomaly_id = add_anomaly(db, robots, kind="vibration")
    assert _next(stream)["data"]["id"] == anomaly_id
