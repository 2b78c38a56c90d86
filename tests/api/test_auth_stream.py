"""The live stream's access: a caller for the handshake, per-caller filtering, and the end of
the stream when its session ends."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from api import create_app
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW, add_anomaly, add_ticket, seed_fleet
from tests.api.server import serve_in_thread
from tests.api.test_stream import _wait_listening, _ws_url


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    # Re-checks the session every 0.2 s so revocation shows within the test's patience.
    app = create_app(database_url=db_url, clock=lambda: NOW, pool_max_size=3,
                     stream_auth_recheck=0.2)
    with serve_in_thread(app) as url:
        yield url


def test_handshake_needs_a_caller(base_url: str):
    for headers in ({}, bearer("rws_forged")):
        with pytest.raises(InvalidStatus) as refused:
            connect(_ws_url(base_url), additional_headers=headers, open_timeout=10)
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["WWW-Authenticate"].startswith("Bearer")


def test_cookie_from_another_site_is_refused(base_url: str, db: psycopg.Connection):
    token = token_for(db, "screen", "dispatcher")
    cookie = {"Cookie": f"rw_session={token}"}
    host = base_url.removeprefix("http://")
    with connect(_ws_url(base_url), additional_headers=cookie, open_timeout=10,
                 origin=f"http://{host}"):  # type: ignore[arg-type]
        pass
    with pytest.raises(InvalidStatus) as refused:
        connect(_ws_url(base_url), additional_headers=cookie, open_timeout=10,
                origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


def test_each_caller_gets_only_what_it_may_read(base_url: str, db: psycopg.Connection):
    robots = seed_fleet(db)
    viewer = bearer(token_for(db, "acme", "customer_viewer", customer="ACME"))
    keeper = bearer(token_for(db, "keeper", "parts_keeper"))
    manager = bearer(token_for(db, "boss", "om_manager"))
    url = _ws_url(base_url)
    with (connect(url, additional_headers=viewer) as v, connect(url, additional_headers=keeper)
          as k, connect(url, additional_headers=manager) as m):
        _wait_listening(base_url, clients=3)
        add_anomaly(db, robots, robot="R-0003")  # BETA
        beta_ticket = add_ticket(db, robots, robot="R-0003", customer="BETA")
        acme_anomaly = add_anomaly(db, robots, robot="R-0001")
        acme_ticket = add_ticket(db, robots, robot="R-0001")

        def seen(ws, n):
            # (type, id of the ticket or anomaly); a history entry names its ticket.
            out = []
            for _ in range(n):
                msg = json.loads(ws.recv(timeout=5))
                data = msg["data"]
                out.append((msg["type"], data["ticket_id"] if msg["type"] == "ticket_event"
                            else data["id"]))
            return sorted(out)

        acme, beta = acme_ticket.id, beta_ticket.id
        # The manager gets all six: two anomalies, two tickets and their "create" entries.
        assert len(seen(m, 6)) == 6
        # The viewer gets ACME's three only: BETA's were never sent to it.
        assert seen(v, 3) == sorted([("anomaly", acme_anomaly), ("ticket", acme),
                                     ("ticket_event", acme)])
        # The parts keeper reads tickets (and their history) but not anomalies.
        assert seen(k, 4) == sorted([("ticket", beta), ("ticket", acme),
                                     ("ticket_event", beta), ("ticket_event", acme)])
        # Nothing more is waiting for either.
        for ws in (v, k):
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.5)


def test_stream_ends_when_its_session_is_revoked(base_url: str, db: psycopg.Connection):
    token = token_for(db, "night", "engineer")
    with connect(_ws_url(base_url), additional_headers=bearer(token)) as ws:
        _wait_listening(base_url, clients=1)
        db.execute("UPDATE auth_tokens SET revoked_at = %s", (NOW,))
        db.commit()
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
