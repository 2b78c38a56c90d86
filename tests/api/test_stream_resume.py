"""Resuming the live stream after a reconnect, over WebSocket and SSE: a client that comes
back with the last id it saw gets exactly the messages it missed, then the live ones."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
from websockets.sync.client import connect

from tests.api.callers import bearer, token_for
from tests.api.seed import add_anomaly, add_ticket, seed_fleet
from tests.api.test_stream import _next, _wait_listening, _ws_url


def _sse(client: httpx.Client, n: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The first ``n`` messages of the SSE stream, each with its SSE ``id`` line checked."""
    out: list[dict[str, Any]] = []
    with client.stream("GET", "/api/v1/stream/events", headers=headers) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in resp.iter_lines():
            if line.startswith(("id:", "data:")):
                key, _, value = line.partition(":")
                event[key] = value.strip()
            elif line == "" and "data" in event:
                msg = json.loads(event["data"])
                assert event.get("id") == (None if msg["id"] is None else str(msg["id"]))
                out.append(msg)
                event = {}
                if len(out) == n:
                    break
    return out


def test_websocket_resumes_with_exactly_the_missed_messages(
    base_url: str, admin_token: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    auth = bearer(admin_token)
    with connect(_ws_url(base_url), additional_headers=auth) as ws:
        _wait_listening(base_url, clients=1)
        first = add_anomaly(db, robots, kind="a")
        seen = _next(ws)
        assert seen["data"]["id"] == first and isinstance(seen["id"], int)
    _wait_listening(base_url, clients=0)
    # While the client is away: an anomaly, a ticket (its insert and its "created" history).
    missed_anomaly = add_anomaly(db, robots, kind="b")
    ticket = add_ticket(db, robots, kind="b")
    url = f"{_ws_url(base_url)}?last_event_id={seen['id']}"
    with connect(url, additional_headers=auth) as ws:
        replay = [_next(ws) for _ in range(3)]
        assert [(m["type"], m["data"]["id"]) for m in replay if m["type"] != "ticket_event"] == [
            ("anomaly", missed_anomaly), ("ticket", ticket.id)]
        assert [m["data"]["ticket_id"] for m in replay if m["type"] == "ticket_event"] == [
            ticket.id]
        ids = [m["id"] for m in replay]
        assert ids == sorted(ids) and ids[0] > seen["id"]
        _wait_listening(base_url, clients=1)
        live = add_anomaly(db, robots, kind="c")
        after = _next(ws)
        # The live one next: nothing replayed twice, nothing skipped.
        assert after["data"]["id"] == live and after["id"] > ids[-1]


def test_sse_resumes_from_last_event_id_and_filters_by_customer(
    base_url: str, db: psycopg.Connection
) -> None:
    robots = seed_fleet(db)
    token = token_for(db, "acme-viewer", "customer_viewer", customer="ACME")
    with httpx.Client(base_url=base_url, headers=bearer(token), timeout=10) as client:
        mark = add_anomaly(db, robots, robot="R-0001", kind="a")
        beta = add_anomaly(db, robots, robot="R-0003", kind="b")  # BETA's: never shown
        acme = add_anomaly(db, robots, robot="R-0002", kind="c")
        # From the beginning of the log: the viewer's two, not BETA's.
        got = _sse(client, 2, {"Last-Event-ID": "0"})
        assert [m["data"]["id"] for m in got] == [mark, acme]
        assert beta not in [m["data"]["id"] for m in got]
        # Reconnecting after the first one gives the second only.
        again = _sse(client, 1, {"Last-Event-ID": str(got[0]["id"])})
        assert again == got[1:]


def test_sse_needs_a_caller_who_reads_tickets(base_url: str) -> None:
    resp = httpx.get(f"{base_url}/api/v1/stream/events", timeout=10)
    assert resp.status_code == 401
