"""The ticketing service against a real PostgreSQL: NOTIFY, sweep, bad anomalies, shutdown."""

from __future__ import annotations

import asyncio
import logging

import psycopg
import pytest

from storage import tickets as store
from storage.connect import connect
from tests.ticketing.fleet import anomaly, register
from ticketing.policy import builtin_policy
from ticketing.service import run_ticketing

POLICY = builtin_policy("default")


async def _until(db_url: str, predicate, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with connect(db_url, autocommit=True) as conn:
            rows, _ = store.list_tickets(conn=conn, limit=1000)
        if predicate(rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; tickets: {rows}")
        await asyncio.sleep(0.1)


async def test_notified_anomalies_become_tickets_and_service_stops(db_url):
    fleet = register(db_url)
    before = await asyncio.to_thread(anomaly, db_url, fleet["R-C1"], impact="stoppage")
    stop = asyncio.Event()
    # A sweep period far beyond the test: only NOTIFY (and the start-up sweep) can be at work.
    task = asyncio.create_task(run_ticketing(conninfo=db_url, policy=POLICY, stop=stop,
                                             sweep_every=60))
    rows = await _until(db_url, lambda rs: len(rs) == 1)
    assert rows[0].anomaly_ids == [before] and rows[0].grade == "I"
    await asyncio.sleep(0.5)  # let the listener subscribe
    a2 = await asyncio.to_thread(anomaly, db_url, fleet["R-O1"], impact="minor", kind="drift")
    rows = await _until(db_url, lambda rs: len(rs) == 2)
    newest = rows[0]
    assert newest.anomaly_ids == [a2] and newest.grade == "IV"
    # Grade IV goes to an engineer, grade I to the O&M manager.
    rows = await _until(db_url, lambda rs: all(r.state == "dispatched" for r in rs))
    assert {r.grade: r.assignee for r in rows} == {"I": "M-01", "IV": "E-01"}
    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_bad_anomaly_is_logged_and_skipped(db_url, caplog):
    fleet = register(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        # A real database error for one fault kind only (think: a broken row the schema lets
        # through); everything else must still be ticketed.
        conn.execute("""
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.kind = 'poison' THEN RAISE EXCEPTION 'poisoned ticket'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_poison BEFORE INSERT ON tickets
                FOR EACH ROW EXECUTE FUNCTION refuse_poison();""")
    bad = await asyncio.to_thread(anomaly, db_url, fleet["R-C1"], kind="poison")
    good = await asyncio.to_thread(anomaly, db_url, fleet["R-C2"], kind="overheating")
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="ticketing")
    task = asyncio.create_task(run_ticketing(conninfo=db_url, policy=POLICY, stop=stop,
                                             sweep_every=0.2, dispatch=False))
    rows = await _until(db_url, lambda rs: len(rs) == 1)
    assert rows[0].anomaly_ids == [good] and rows[0].state == "new"
    await asyncio.sleep(0.6)  # a few more sweeps: the bad one is not retried in a loop
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and f"anomaly {bad} " in skipped[0].getMessage()
    with connect(db_url, autocommit=True) as conn:
        assert [a.id for a in store.unticketed_anomalies(conn=conn, limit=10)] == [bad]


async def test_service_survives_an_unreachable_database_and_stops(caplog):
    stop = asyncio.Event()
    caplog.set_level(logging.ERROR, logger="ticketing")
    task = asyncio.create_task(run_ticketing(
        conninfo="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", policy=POLICY,
        stop=stop, sweep_every=0.2))
    await asyncio.sleep(1.0)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert any("sweep failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad", [0, -1])
async def test_sweep_period_must_be_positive(bad):
    with pytest.raises(ValueError):
        await run_ticketing(conninfo="", policy=POLICY, stop=asyncio.Event(), sweep_every=bad)
