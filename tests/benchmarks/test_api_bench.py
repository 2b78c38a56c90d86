"""The pieces of ``bench api`` on a small scale (no speed is asserted: speeds come from the
bench command): seeding, the open-loop client and the WebSocket fan-out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import psutil
import psycopg

from api import create_app
from benchmarks.api import _charts, _fanout, _fleet, _open_loop, _seed, _seed_chart
from storage.fleet import register_fleet
from tests.api.server import serve_in_thread


def test_bench_pieces_work_end_to_end(db_url: str, db: psycopg.Connection) -> None:
    register_fleet(conn=db, fleet=_fleet(20))
    db.commit()
    now = datetime.now(UTC)
    token, numbers = _seed(db_url, tickets=12, now=now)
    assert len(numbers) == 12 and numbers[0].startswith("RW-")
    robot, signals = _seed_chart(db_url, end=now, day_hz=0.01, history_hz=0.0005)
    charts = _charts(db_url, robot, signals, now, repeat=2)
    assert 0 < charts["1d"]["points_per_series"] <= 2000
    assert 0 < charts["90d"]["points_per_series"] <= 2000
    app = create_app(database_url=db_url, pool_max_size=4)
    with serve_in_thread(app) as url:
        here = psutil.Process()  # the server runs in a thread of this process
        board = asyncio.run(_open_loop(url, token, ["/api/v1/tickets?open=true&sort=urgency"],
                                       rate=20, seconds=1, api=here))
        assert board["requests"] == 20 and board["errors"] == 0 and board["p99_s"] is not None
        assert board["status"] == {"200": 20} and board["api_cores"] > 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/api/v1/tickets", params={"open": "true"}).json()["count"] == 2
        pages = asyncio.run(_open_loop(url, token, [f"/api/v1/tickets/{n}" for n in numbers],
                                       rate=20, seconds=0.5, api=here))
        assert pages["errors"] == 0
        fan = asyncio.run(_fanout(url, db_url, token, clients=3, alerts=2))
        assert fan["clients"] == 3 and fan["p99_s"] is not None and fan["p99_s"] >= 0
