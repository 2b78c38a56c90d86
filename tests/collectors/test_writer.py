"""The batch writer against a real PostgreSQL."""

import asyncio
import functools
from datetime import UTC, datetime

from collectors.metrics import CollectorMetrics
from collectors.writer import BatchWriter, WriterConfig
from storage.connect import connect
from storage.quarantine import Rejected
from tests.collectors.fleet_fixture import register_small_fleet

T0_US = int(datetime.now(UTC).timestamp() * 1e6)


def rows(robot_id, n, start=0):
    """One message's points as the writer's keyword columns: J1.current at 1 ms steps."""
    idx = range(start, start + n)
    return {"time_us": [T0_US + 1000 * i for i in idx], "robot_id": [robot_id] * n,
            "signal_id": [1] * n, "value": [float(i) for i in idx], "quality": [0] * n}


async def test_acks_run_only_after_commit_and_close_drains_everything(db_url):
    ids = register_small_fleet(db_url)
    with connect(db_url) as conn:
        conn.execute("INSERT INTO signals (name) VALUES ('J1.current')")
        conn.commit()
    w = BatchWriter(conninfo=db_url, metrics=CollectorMetrics(),
                    config=WriterConfig(max_rows=1000, max_batch_rows=1000, max_delay_s=60.0))
    task = asyncio.create_task(w.run())
    acked: list[int] = []
    # 2,500 rows in 25 messages: two full batches are written at once, the rest waits for
    # the (long) batch clock, so its acks must wait too.
    for m in range(25):
        await w.put(**rows(ids["R1"], 100, start=m * 100), sample_time=0.0,
                    on_commit=functools.partial(acked.append, m))
    for _ in range(50):
        if len(acked) >= 20:
            break
        await asyncio.sleep(0.05)
    assert acked == list(range(20))  # messages wholly inside the committed 2,000 rows
    w.reject(Rejected(source="test", origin="t", reason="malformed_json", detail="x", payload=b"{"),
             on_commit=lambda: acked.append(-1))
    await w.close()
    await asyncio.wait_for(task, 10)  # close() must drain and return, not hang
    assert sorted(acked) == [-1, *range(25)]
    assert acked[:25] == list(range(25)) or acked[:24] == list(range(24))  # messages in order
    with connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (2500,)
        assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)
