"""Never lose an anomaly: the detection service's database connection is cut exactly between
the engine opening a fault's anomaly and storing it. The anomaly, and the ticket the real
ticketing service raises for it, still appear, exactly once.

Real embedded PostgreSQL (fixtures), the real ``run_detection`` loop and the real
``run_ticketing`` service in one event loop. The cut is deterministic: the service's
``before_store`` seam terminates its own backend (found by application name in
``pg_stat_activity``) and waits until the backend is gone before the store is attempted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from psycopg import conninfo as ci

from detection.engine import AnomalyOpened, EngineEvent, load_engine_policy
from detection.service import DetectionService, run_detection
from storage import tickets as ticket_store
from storage.anomalies import list_anomalies
from storage.connect import connect
from storage.fleet import ensure_signals
from storage.telemetry import copy_rows
from tests.ticketing.fleet import register
from ticketing.policy import builtin_policy
from ticketing.service import run_ticketing

APP = "robowatch-detect-outbox-test"
T = TypeVar("T")


def _terminate_detection_backend(db_url: str) -> int:
    """Terminate the detection service's backend and wait until it has exited."""
    with connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()", (APP,)).fetchall()
    assert [ok for _, ok in rows] == [True], rows
    return int(rows[0][0])


async def _until(predicate: Callable[[], T], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        got = await asyncio.to_thread(predicate)
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        await asyncio.sleep(0.1)


async def test_cut_connection_between_engine_and_store_loses_no_anomaly(db_url, caplog):
    caplog.set_level(logging.INFO)
    fleet = register(db_url)
    rid = fleet["R-C1"]
    with connect(db_url, autocommit=True) as conn:
        temp = ensure_signals(conn=conn, names=["J2.temperature"])["J2.temperature"]
    base = load_engine_policy()
    pol = base.model_copy(update={"engine": base.engine.model_copy(update={
        "read_lag_s": 0.0, "breach_s": 0.5, "poll_interval_s": 0.1, "reconnect_max_s": 0.5})})

    cut: list[int] = []

    def before_store(events: Sequence[EngineEvent]) -> None:
        # Runs in the detection worker thread, after the engine opened the anomaly (its
        # state now holds it open) and before the service stores it.
        if not cut and any(isinstance(e, AnomalyOpened) for e in events):
            cut.append(_terminate_detection_backend(db_url))

    service = DetectionService(conninfo=ci.make_conninfo(db_url, application_name=APP),
                               policy=pol, before_store=before_store)
    stop = asyncio.Event()
    detection = asyncio.create_task(run_detection(
        conninfo="", policy=pol, stop=stop, service=service))
    ticketing = asyncio.create_task(run_ticketing(
        conninfo=db_url, policy=builtin_policy("default"), stop=stop, sweep_every=1.0))
    try:
        await _until(lambda: service.engine is not None)
        # A winding 10 degC above the motor's static limit for 1.2 s (from the first sample,
        # no baseline needed): one temperature_high anomaly on J2.
        now = time.time()
        hot = pol.static_high["temperature"] + 10.0
        with connect(db_url) as conn:
            copy_rows(conn=conn, rows=[(datetime.fromtimestamp(now + i / 5, UTC), rid, temp,
                                        hot, 0) for i in range(7)])
            conn.commit()

        def ticketed() -> list[ticket_store.TicketRow]:
            with connect(db_url, autocommit=True) as conn:
                rows, _ = ticket_store.list_tickets(conn=conn, limit=100)
            return [t for t in rows if t.anomaly_ids]

        await _until(ticketed)
        await asyncio.sleep(1.5)  # room for a duplicate to show up, were there one
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(detection, ticketing), timeout=15)

    assert len(cut) == 1, "the connection was never cut"
    with connect(db_url, autocommit=True) as conn:
        anomalies, _ = list_anomalies(conn=conn, robot="R-C1")
        tickets, _ = ticket_store.list_tickets(conn=conn, limit=100)
    temp_anomalies = [a for a in anomalies if a.kind == "temperature_high"]
    assert [(a.component, a.kind) for a in temp_anomalies] == [("J2", "temperature_high")]
    assert temp_anomalies[0].ticket_id is not None
    assert [t.anomaly_ids for t in tickets] == [[temp_anomalies[0].id]]
    assert len(service.outbox) == 0 and service.opened == 1
    # The cut was seen and the waiting anomaly stored after the reconnect.
    text = caplog.text
    assert "database connection lost" in text
    assert "waiting events stored" in text
    assert "robot R-C1 J2 temperature_high" in text
