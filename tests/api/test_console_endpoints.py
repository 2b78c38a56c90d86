"""The endpoints the console's pages read: downsampled telemetry, the fleet tree, the events
a caller may post on a ticket, engineer names. Real PostgreSQL, real uvicorn."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest

from storage.downsample import BUCKET_LADDER_S, _binned_sql, bucket_for
from storage.fleet import EngineerSpec, FleetSpec, ensure_signals, register_fleet
from storage.telemetry import PointColumns, encode_copy, write_copy
from tests.api.callers import bearer, token_for
from tests.api.seed import NOW, add_anomaly, add_ticket, seed_fleet

Robots = dict[str, int]
SIGNALS = ("J1.current", "J2.current", "program_state")


def _store(conn: psycopg.Connection, robot_id: int, signal: str, t0: float, n: int,
           step_s: float, values: np.ndarray) -> None:
    sid = ensure_signals(conn=conn, names=SIGNALS)[signal]
    cols = PointColumns(
        time_us=(t0 * 1e6 + np.arange(n) * step_s * 1e6).astype(np.int64),
        robot_id=np.full(n, robot_id, np.int32), signal_id=np.full(n, sid, np.int16),
        value=values.astype(np.float64), quality=np.zeros(n, np.int16))
    write_copy(conn=conn, data=encode_copy(cols), rows=n)


@pytest.fixture
def fleet(db_url: str) -> Robots:
    with psycopg.connect(db_url) as conn:
        robots = seed_fleet(conn)
        ensure_signals(conn=conn, names=SIGNALS)
        conn.execute("UPDATE signals SET unit = 'A' WHERE name LIKE 'J%%.current'")
        # One day of J1 current at 1 Hz on R-0001, flat 10 A with one 55 A spike.
        day = 86_400
        values = np.full(day, 10.0)
        values[50_000] = 55.0
        _store(conn, robots["R-0001"], "J1.current", NOW.timestamp() - day, day, 1.0, values)
        # R-0001 running, R-0002 stopped, R-0003 reported two hours ago only.
        _store(conn, robots["R-0001"], "program_state", NOW.timestamp() - 10, 5, 1.0,
               np.ones(5))
        _store(conn, robots["R-0002"], "program_state", NOW.timestamp() - 10, 5, 1.0,
               np.zeros(5))
        _store(conn, robots["R-0003"], "program_state", NOW.timestamp() - 7200, 5, 1.0,
               np.ones(5))
        conn.commit()
    return robots


def _series(body: dict[str, Any], signal: str) -> dict[str, Any]:
    return next(s for s in body["series"] if s["signal"] == signal)


def test_a_day_is_bucketed_and_the_spike_survives(client: httpx.Client, fleet: Robots) -> None:
    frm = (NOW - timedelta(days=1)).isoformat()
    r = client.get("/api/v1/robots/R-0001/telemetry",
                   params={"signals": "J1.current", "from": frm, "to": NOW.isoformat(),
                           "max_points": 2000})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["robot"] == "R-0001" and body["bucket_s"] == 60.0
    s = _series(body, "J1.current")
    assert s["unit"] == "A"
    assert 1400 <= len(s["t"]) <= 2000
    assert max(s["max"]) == 55.0 and min(s["min"]) == 10.0
    assert max(s["avg"]) < 11.0  # the spike is one sample of a 60 s bucket
    assert s["t"] == sorted(s["t"]) and all(t % 60 == 0 for t in s["t"])


def test_a_short_range_is_raw(client: httpx.Client, fleet: Robots) -> None:
    r = client.get("/api/v1/robots/R-0001/telemetry",
                   params={"signals": "J1.current,J2.current",
                           "from": (NOW - timedelta(minutes=1)).isoformat(),
                           "to": NOW.isoformat()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bucket_s"] is None
    s = _series(body, "J1.current")
    assert len(s["t"]) == 60 and s["min"] == s["avg"] == s["max"]
    assert _series(body, "J2.current")["t"] == []  # known signal, no data for this robot


@pytest.mark.parametrize("params, why", [
    ({"signals": "J9.nothing"}, "unknown signal"),
    ({"from": NOW.isoformat(), "to": (NOW - timedelta(hours=1)).isoformat()}, "before"),
    ({"from": (NOW - timedelta(days=400)).isoformat(), "to": NOW.isoformat()}, "range"),
    ({"max_points": 100000}, "max_points"),
    ({"signals": "J1.current;DROP"}, "pattern"),
])
def test_bad_chart_requests_are_refused(client: httpx.Client, fleet: Robots,
                                        params: dict[str, str | int],
                                        why: str) -> None:
    r = client.get("/api/v1/robots/R-0001/telemetry", params=params)
    assert r.status_code == 422, (why, r.text)
    assert why in r.text.lower() or r.headers["content-type"].endswith("json")


def test_customer_viewer_sees_only_its_robots(base_url: str, db_url: str, fleet: Robots) -> None:
    with psycopg.connect(db_url) as conn:
        token = token_for(conn, "beta-viewer", "customer_viewer", customer="BETA")
    with httpx.Client(base_url=base_url, headers=bearer(token)) as c:
        assert c.get("/api/v1/robots/R-0001/telemetry").status_code == 404
        assert c.get("/api/v1/robots/R-0003/telemetry").status_code == 200
        tree = c.get("/api/v1/fleet/tree").json()
        assert [cu["code"] for cu in tree["customers"]] == ["BETA"]


def test_fleet_tree_statuses_counts_and_search(client: httpx.Client, db_url: str,
                                               fleet: Robots) -> None:
    with psycopg.connect(db_url) as conn:
        add_anomaly(conn, fleet, robot="R-0001")
    tree = client.get("/api/v1/fleet/tree").json()
    assert tree["counts"] == {"running": 0, "alarm": 1, "stopped": 1, "no_data": 1}
    acme = next(c for c in tree["customers"] if c["code"] == "ACME")
    robots = {r["code"]: r for r in acme["sites"][0]["lines"][0]["robots"]}
    assert robots["R-0001"]["status"] == "alarm" and robots["R-0001"]["open_anomalies"] == 1
    assert robots["R-0002"]["status"] == "stopped"
    assert acme["counts"] == {"running": 0, "alarm": 1, "stopped": 1, "no_data": 0}
    found = client.get("/api/v1/fleet/tree", params={"q": "beta"}).json()
    assert [c["code"] for c in found["customers"]] == ["BETA"]
    found = client.get("/api/v1/fleet/tree", params={"q": "r-0002"}).json()
    assert found["counts"]["stopped"] == 1 and sum(found["counts"].values()) == 1


def test_allowed_events_follow_role_reach_and_state(base_url: str, db_url: str,
                                                    fleet: Robots) -> None:
    with psycopg.connect(db_url) as conn:
        ticket = add_ticket(conn, fleet)
        register_fleet(conn=conn, fleet=FleetSpec(engineers=(
            EngineerSpec(code="E-1", name="Chen Hao"),)))
        conn.commit()
        tokens = {role: token_for(conn, f"u-{role}", role) for role in
                  ("om_manager", "dispatcher", "admin")}
        tokens["engineer"] = token_for(conn, "u-eng", "engineer", engineer="E-1")
    allowed = {}
    for role, token in tokens.items():
        with httpx.Client(base_url=base_url, headers=bearer(token)) as c:
            r = c.get(f"/api/v1/tickets/{ticket.id}/allowed-events")
            assert r.status_code == 200, r.text
            allowed[role] = r.json()["events"]
    # A new ticket: dispatch, cancel, merge, regrade for the manager; no accept (not dispatched).
    assert set(allowed["om_manager"]) == {"dispatch", "cancel", "merge", "regrade"}
    assert set(allowed["dispatcher"]) == {"dispatch", "cancel", "merge"}
    assert allowed["admin"] == [] and allowed["engineer"] == []


def test_engineer_names_and_settings(client: httpx.Client, db_url: str, fleet: Robots) -> None:
    with psycopg.connect(db_url) as conn:
        register_fleet(conn=conn, fleet=FleetSpec(engineers=(
            EngineerSpec(code="E-7", name="Zhao Min", city="Wuxi"),)))
    r = client.get("/api/v1/engineers")
    assert r.status_code == 200
    assert [(e["code"], e["name"]) for e in r.json()["items"]] == [("E-7", "Zhao Min")]
    s = client.get("/api/v1/console/settings").json()
    assert 0 < s["warn_share"] < 1


@pytest.mark.parametrize("span_s, points, bucket", [
    (86_400, 2000, 60), (90 * 86_400, 2000, 7200), (3600, 2000, 2), (60, 2000, 1),
])
def test_buckets_keep_any_range_within_max_points(span_s: int, points: int,
                                                  bucket: int) -> None:
    size = bucket_for(span_s=span_s, max_points=points)
    assert size == bucket and span_s / size <= points
    smaller = [b for b in BUCKET_LADDER_S if b < size]
    assert not smaller or span_s / smaller[-1] > points  # the finest that fits


def test_timescale_builds_minute_multiples_from_the_rollup() -> None:
    assert "telemetry_1m" in _binned_sql(timescale=True, step=3600)
    assert "time_bucket" in _binned_sql(timescale=True, step=10)
    assert "telemetry_1m" not in _binned_sql(timescale=True, step=10)
    assert "date_bin" in _binned_sql(timescale=False, step=3600)
