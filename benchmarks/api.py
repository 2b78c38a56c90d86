"""``bench api``: the API's speeds while ingest runs on the same machine.

One PostgreSQL server (embedded here, or the one ``ROBOWATCH_DATABASE_URL`` names) holds the
API's database (a 200-robot fleet, open and closed tickets, one robot's joint currents) and,
beside it, the scratch database of ``bench ingest`` (``benchmarks.ingest.run_ingest``:
simulator -> Mosquitto -> collector at the requested points/s), which runs in a thread for
the whole measurement. The API runs as ``robowatch api`` in its own process, as deployed.

Measured, one after the other while ingest runs:

- ticket list (``GET /api/v1/tickets?open=true&sort=urgency&limit=50``, the board) and ticket
  page (``GET /api/v1/tickets/{number}``) at a fixed arrival rate, open loop: latency counts
  from the scheduled send time, so a server that falls behind shows it (no coordinated
  omission);
- a chart of one robot's 6 joint currents over 1 day and 90 days, downsampled to 2,000
  buckets by ``storage.downsample`` (the telemetry endpoint is not in main yet, so the
  storage query is measured directly);
- one anomaly fanned out to ``clients`` WebSocket clients: from just before the commit to
  each client's receipt.

Each request phase also reports its answers by status code and the CPU it took: the API's
processes (all its workers), this process (the load generator, which also drives ingest),
and the machine's. With ``sweep`` rates, the board is measured again at each, to find the
highest rate that keeps its p99 within target on this machine.

The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import websockets

from api.auth.crypto import SESSION_PREFIX, hash_password, new_secret
from benchmarks.ingest import _cpu as cpu_seconds
from benchmarks.ingest import prepared_database, run_ingest
from simulators.brokers import free_port
from storage.anomalies import NewAnomaly, close_anomaly, open_anomaly
from storage.connect import connect
from storage.downsample import read_series
from storage.fleet import (
    CustomerSpec,
    FleetSpec,
    LineSpec,
    RobotSpec,
    SiteSpec,
    ensure_signals,
    register_fleet,
    robot_ids,
)
from storage.measure import create_scratch_database, drop_database
from storage.migrate import upgrade
from storage.telemetry import PointColumns, copy_encoded, encode_copy
from storage.tickets import NewTicket, create_ticket, robot_owner, transition
from storage.users import create_user, issue_token

__all__ = ["run_api_bench"]

JOINTS = 6


def _fleet(robots: int) -> FleetSpec:
    # 10 customers, one site each, two lines: the shape of the demo, scaled.
    per = max(1, robots // 10)
    customers = []
    n = 0
    for c in range(10):
        lines = []
        for li in range(2):
            count = per // 2 + (per % 2 if li == 0 else 0)
            lines.append(LineSpec(code=f"L{li + 1}", name=f"Line {li + 1}", robots=tuple(
                RobotSpec(code=f"R-{n + i + 1:04d}") for i in range(count))))
            n += count
        site = SiteSpec(code="S1", name="Plant", lines=tuple(lines))
        customers.append(CustomerSpec(code=f"C{c:02d}", name=f"Customer {c}", tier="important",
                                      sites=(site,)))
    return FleetSpec(customers=tuple(customers))


def _seed(url: str, *, tickets: int, now: datetime) -> tuple[str, list[str]]:
    """Tickets over the last week, one in ten still open (a 200-robot fleet's board holds a
    few hundred), one administrator's token; (token, ticket numbers)."""
    token, hashed = new_secret(SESSION_PREFIX)
    rng = np.random.default_rng(0)
    numbers: list[str] = []
    with connect(url) as conn:
        robots = robot_ids(conn=conn)
        codes = sorted(robots)
        owners = {code: robot_owner(conn=conn, code=code) for code in codes}
        for i in range(tickets):
            code = codes[i % len(codes)]
            created = now - timedelta(minutes=float(rng.uniform(1, 60 * 24 * 7)))
            row = create_ticket(conn=conn, actor="bench", ticket=NewTicket(
                robot_id=robots[code], customer_id=owners[code].customer_id,  # type: ignore[union-attr]
                tier="important",
                impact="core-module", grade=["I", "II", "III", "IV"][i % 4], component="J3",
                kind=f"k{i}", title=f"bench {i}", policy="bench", created_at=created,
                respond_by=created + timedelta(hours=2), resolve_by=created + timedelta(days=2)))
            numbers.append(row.number)
            if i % 10:
                closed = created + timedelta(hours=8)
                transition(conn=conn, ticket_id=row.id, from_state="new", to_state="archived",
                           event="archive", actor="bench", at=closed,
                           changes={"resolved_at": closed, "closed_at": closed})
        user = create_user(conn=conn, username="bench", role="admin",
                           password_hash=hash_password("bench-robowatch"), at=now)
        issue_token(conn=conn, user_id=user.id, token_hash=hashed, created_at=now,
                    expires_at=now + timedelta(days=1), client="bench")
        conn.commit()
    return token, numbers


def _seed_chart(
    url: str, *, end: datetime, day_hz: float, history_hz: float
) -> tuple[int, list[int]]:
    """One robot's 6 joint currents: 90 days at ``history_hz``, the last day at ``day_hz``."""
    with connect(url) as conn:
        robot = robot_ids(conn=conn)["R-0001"]
        ids = ensure_signals(conn=conn, names=[f"J{j}.current" for j in range(1, JOINTS + 1)])
        signal_ids = [ids[f"J{j}.current"] for j in range(1, JOINTS + 1)]
        rng = np.random.default_rng(1)
        end_us = int(end.timestamp() * 1e6)
        for first_s, last_s, hz in ((90 * 86400, 86400, history_hz), (86400, 0, day_hz)):
            t = np.arange(end_us - first_s * 1_000_000, end_us - last_s * 1_000_000,
                          int(1e6 / hz), dtype=np.int64)
            for sid in signal_ids:
                cols = PointColumns(
                    time_us=t, robot_id=np.full(t.shape, robot, np.int32),
                    signal_id=np.full(t.shape, sid, np.int16),
                    value=rng.normal(12.0, 1.5, t.shape), quality=np.zeros(t.shape, np.int16))
                copy_encoded(conn=conn, data=encode_copy(cols))
        conn.commit()
    return robot, signal_ids


def _p(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


class _Cpu:
    """CPU seconds of the API's processes, of this one and of the machine over a phase."""

    def __init__(self, api: psutil.Process) -> None:
        self._api = api
        self._start = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return (time.perf_counter(), cpu_seconds(self._api, True), time.process_time(), busy)

    def cores(self) -> dict[str, float]:
        """Average cores busy since construction (1.0 = one core all the time)."""
        end = self._read()
        wall = end[0] - self._start[0]
        api, bench, machine = ((end[i] - self._start[i]) / wall for i in (1, 2, 3))
        return {"api_cores": round(api, 2), "bench_process_cores": round(bench, 2),
                "machine_cores_busy": round(machine, 2), "machine_cores": psutil.cpu_count()}


# Connections the load generator keeps open, each with its own client. One shared client
# with this many connections spent a whole core in httpcore's pool bookkeeping (it scans every
# waiting request on every event) once the API fell behind at 500 requests/s, so the
# generator, not the API, set the figure.
_CONNECTIONS = 64


async def _open_loop(base: str, token: str, paths: list[str], rate: float,
                     seconds: float, api: psutil.Process) -> dict[str, Any]:
    """``rate`` requests/s for ``seconds``, cycling through ``paths``; latencies from the
    scheduled send time (a request waiting for a free connection is late, as a server that
    falls behind makes it); answers by status ("transport": no answer)."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    # One log line per request would cost the client more than the request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    due_queue: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()

    async def connection() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            while (item := await due_queue.get()) is not None:
                path, due = item
                try:
                    status = str((await client.get(path)).status_code)
                except httpx.HTTPError:
                    status = "transport"
                latencies.append(time.perf_counter() - due)
                statuses[status] = statuses.get(status, 0) + 1

    workers = [asyncio.create_task(connection()) for _ in range(_CONNECTIONS)]
    cpu = _Cpu(api)
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due_queue.put_nowait((paths[i % len(paths)], due))
    for _ in workers:
        due_queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    used = cpu.cores()
    errors = n - statuses.get("200", 0)
    return {"p50_s": _p(latencies, 50), "p99_s": _p(latencies, 99), "requests": n,
            "errors": errors, "status": dict(sorted(statuses.items())),
            "achieved_rps": round(n / elapsed, 1), "rate": rate, **used}


def _charts(url: str, robot: int, signals: list[int], end: datetime,
            repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with connect(url) as conn:
        for name, span in (("1d", timedelta(days=1)), ("90d", timedelta(days=90))):
            times, buckets = [], 0
            for _ in range(repeat):
                t0 = time.perf_counter()
                got = read_series(conn=conn, robot_id=robot, signals={
                    f"J{i + 1}.current": (sid, "A") for i, sid in enumerate(signals)},
                    start=end - span, end=end, max_points=2000)
                times.append(time.perf_counter() - t0)
                buckets = len(got.series[0].t) if got.series else 0
            out[name] = {"p50_s": _p(times, 50), "p99_s": _p(times, 99),
                         "points_per_series": buckets}
    return out


async def _fanout(base: str, url: str, token: str, clients: int, alerts: int) -> dict[str, Any]:
    ws_url = base.replace("http://", "ws://") + "/api/v1/stream"
    headers = {"Authorization": f"Bearer {token}"}
    conns = [await websockets.connect(ws_url, additional_headers=headers, max_queue=None)
             for _ in range(clients)]
    latencies: list[float] = []
    try:
        with connect(url) as conn:
            robot = robot_ids(conn=conn)["R-0002"]
            await asyncio.sleep(1.0)
            for i in range(alerts):
                kind = f"fanout{i}"

                async def receive(ws: Any, k: str = kind) -> float:
                    while True:
                        msg = json.loads(await ws.recv())
                        data = msg.get("data") or {}
                        if msg.get("op") == "insert" and data.get("kind") == k:
                            return time.perf_counter()

                waiting = [asyncio.create_task(receive(ws)) for ws in conns]
                t0 = time.perf_counter()
                await asyncio.to_thread(_alert, conn, robot, kind)
                done = await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
                latencies += [t - t0 for t in done]
                await asyncio.to_thread(_close, conn, robot, kind)
                await asyncio.sleep(0.2)
    finally:
        for ws in conns:
            await ws.close()
    return {"p50_s": _p(latencies, 50), "p99_s": _p(latencies, 99), "clients": clients,
            "alerts": alerts}


def _alert(conn: Any, robot: int, kind: str) -> None:
    open_anomaly(conn=conn, anomaly=NewAnomaly(
        robot_id=robot, component="J2", kind=kind, detector="bench", impact="core-module",
        started_at=datetime.now(UTC), score=4.0, signals=("J2.current",), evidence={}))
    conn.commit()


def _close(conn: Any, robot: int, kind: str) -> None:
    close_anomaly(conn=conn, robot_id=robot, component="J2", kind=kind,
                  ended_at=datetime.now(UTC))
    conn.commit()


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"robowatch api exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}/healthz", timeout=2)  # noqa: S310 - local URL
            return
        time.sleep(0.2)
    raise RuntimeError("robowatch api did not answer /healthz")


def run_api_bench(
    *, settings_url: str | None, broker: str | None, tmp: Path, rate: float,
    seconds: float, ingest_points: float, clients: int, alerts: int, tickets: int,
    day_hz: float, history_hz: float, sweep: tuple[float, ...] = (), workers: int | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    for part in ("api", "ingest"):
        (tmp / part).mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if settings_url:
            # Our own name: run_ingest's scratch database is robowatch_bench_<pid>.
            name = f"robowatch_apibench_{os.getpid()}"
            url = create_scratch_database(admin_url=settings_url, name=name)
            stack.callback(drop_database, admin_url=settings_url, name=name)
            upgrade(url)
            with connect(url) as conn:
                register_fleet(conn=conn, fleet=_fleet(200))
                conn.commit()
            env = dict(os.environ)
        else:
            url, _, env = prepared_database(stack, None, tmp / "api", _fleet(200))
        env.pop("ROBOWATCH_MQTT_URL", None)
        token, numbers = _seed(url, tickets=tickets, now=now)
        robot, signals = _seed_chart(url, end=now, day_hz=day_hz, history_hz=history_hz)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = subprocess.Popen(
            [sys.executable, "-m", "robowatch", "--log-level", "WARNING", "api", "--port",
             str(port), *(["--workers", str(workers)] if workers else [])],
            env={**env, "ROBOWATCH_DATABASE_URL": url})
        stack.callback(api.wait, 30)
        stack.callback(api.terminate)
        _wait_http(base, api, 60)

        # Ingest for the whole measurement, on the same PostgreSQL server when one is named
        # (its own scratch database), else beside ours: 200 robots x 25 signals x 10 Hz.
        measure_s = (2 + len(sweep)) * seconds + 60
        ingest: dict[str, Any] = {}

        def _ingest() -> None:
            per_robot = ingest_points / 200 / 10
            ingest.update(run_ingest("mqtt", 200, max(1, round(per_robot)), 10.0,
                                     measure_s + 15, settings_url or url, broker,
                                     tmp / "ingest", 1))

        worker = threading.Thread(target=_ingest, name="bench-ingest")
        worker.start()
        time.sleep(15)  # simulator, broker and collector up and flowing
        board = ["/api/v1/tickets?open=true&sort=urgency&limit=50"]
        pages = [f"/api/v1/tickets/{n}" for n in numbers[:500]]
        served = psutil.Process(api.pid)
        # uvicorn's workers are spawned children (its resource tracker is one too).
        worker_count = sum("spawn_main" in " ".join(c.cmdline()) for c in served.children()) or 1
        ticket_list = asyncio.run(_open_loop(base, token, board, rate, seconds, served))
        ticket_page = asyncio.run(_open_loop(base, token, pages, rate, seconds, served))
        swept = [asyncio.run(_open_loop(base, token, board, r, seconds, served))
                 for r in sweep]
        charts = _charts(url, robot, signals, now, repeat=20)
        fanout = asyncio.run(_fanout(base, url, token, clients, alerts))
        worker.join()
    return {
        "ticket_list_p99_s": ticket_list["p99_s"],
        "ticket_page_p99_s": ticket_page["p99_s"],
        "chart_1d_p99_s": charts["1d"]["p99_s"],
        "chart_90d_p99_s": charts["90d"]["p99_s"],
        "fanout_p99_s": fanout["p99_s"],
        "ingest_points_per_second": ingest.get("points_per_second"),
        "ticket_list": ticket_list, "ticket_page": ticket_page, "charts": charts,
        "chart_source": "storage.downsample.read_series (the telemetry endpoint's query)",
        "chart_rates_hz": {"last_day": day_hz, "history": history_hz},
        "fanout": fanout, "ticket_list_sweep": swept, "tickets": tickets,
        "requested_rps": rate, "api_workers": worker_count,
        "requested_ingest_points_per_second": ingest_points,
        "cpu_count": os.cpu_count(),
    }
