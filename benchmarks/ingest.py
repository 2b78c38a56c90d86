"""``bench ingest``: simulator -> broker (or OPC UA) -> collector -> database, measured.

Every part runs as its own OS process so each one's CPU is reported: the simulator (a spawned
Python process), Mosquitto (started here on a free port; its configuration is in
``docs/performance.md``), the collector (``robowatch collect ...``), and PostgreSQL (an
embedded server in a temporary directory, or a fresh database on ``ROBOWATCH_DATABASE_URL``).

Figures: sustained points/s (points stored / first sample to last commit), ingest lag p50/p99
(the collector's own histogram of sample time to commit, read from its ``/metrics`` with
linear interpolation inside buckets), lost points (acknowledged by the broker, or written by
the OPC UA server, minus stored), CPU seconds and share of one core per process; and, in the
same run, the raw limit: the very rows just stored, exported, the table emptied, and loaded
again by one ``COPY`` with no collector. Bytes per stored point of the narrow layout, and of a
one-row-per-robot-tick layout built from the same rows, come last. The last line printed is
one JSON object.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from simulators.brokers import free_port, local_broker
from storage.connect import connect
from storage.embedded import EmbeddedPostgres
from storage.fleet import FleetSpec, register_fleet
from storage.measure import (
    count_telemetry,
    create_scratch_database,
    drop_database,
    empty_telemetry,
    export_telemetry,
    layout_bytes,
    series_values_sample,
)
from storage.migrate import upgrade
from storage.telemetry import copy_encoded, insert_new

log = logging.getLogger(__name__)


# -- processes ------------------------------------------------------------------------------

def _simulate(kind: str, url: str, robots: int, signals: int, rate: float, seconds: float,
              port: int, out: Any) -> None:
    """Body of the simulator process (spawned: a fresh interpreter, no inherited state)."""
    import asyncio

    from simulators.opcua import OpcUaConfig as SimOpcUa
    from simulators.runner import RunConfig, run
    from simulators.scenario import Scenario, packaged_scenario_path

    logging.basicConfig(level=logging.WARNING)
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(robots)
    cfg = RunConfig(rate_hz=rate, duration_s=seconds, protocol=kind,  # type: ignore[arg-type]
                    mqtt_url=url if kind == "mqtt" else None, mqtt_qos=1,
                    mqtt_signals=signals, client_id_suffix=f"ingest{os.getpid()}",
                    opcua=SimOpcUa(host="127.0.0.1", port=port), run_id="bench-ingest")
    t0 = time.time()
    result = asyncio.run(run(sc, cfg, on_ready=lambda *_: out.put({"ready": time.time()})))
    stats = result.mqtt
    out.put({"start": t0, "end": time.time(), "ticks": result.ticks,
             "skipped": result.skipped_ticks, "opcua_values": result.opcua_values,
             "points_acked": stats.points_acked if stats else None,
             "points_queued": stats.points_queued if stats else None,
             "messages_dropped": stats.messages_dropped if stats else None})


@contextlib.contextmanager
def _database(settings_url: str | None, tmp: Path) -> Iterator[tuple[str, psutil.Process | None]]:
    """(URL of an empty database, the postmaster when it runs here)."""
    if settings_url:
        name = f"robowatch_bench_{os.getpid()}"
        url = create_scratch_database(admin_url=settings_url, name=name)
        try:
            yield url, None
        finally:
            drop_database(admin_url=settings_url, name=name)
        return
    server = EmbeddedPostgres(tmp / "pg")
    url = server.start()
    pid = int((tmp / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
    try:
        yield url, psutil.Process(pid)
    finally:
        server.stop()


def prepared_database(stack: contextlib.ExitStack, settings_url: str | None, tmp: Path,
                      fleet: FleetSpec) -> tuple[str, psutil.Process | None, dict[str, str]]:
    """A migrated scratch database holding ``fleet``, living as long as ``stack``: (URL, the
    postmaster when it runs here, the environment for the benchmark's child processes)."""
    url, postmaster = stack.enter_context(_database(settings_url, tmp))
    upgrade(url)
    with connect(url) as conn:
        register_fleet(conn=conn, fleet=fleet)
        conn.commit()
    env = {**os.environ, "ROBOWATCH_DATABASE_URL": url}
    env.pop("ROBOWATCH_MQTT_URL", None)  # each benchmark names its own broker
    return url, postmaster, env


def _cpu(proc: psutil.Process | None, tree: bool) -> float:
    if proc is None:
        return 0.0
    procs = [proc, *(proc.children(recursive=True) if tree else [])]
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _scrape(port: int) -> dict[str, float]:
    """The collector's /metrics as name{labels} -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, val = line.rpartition(" ")
            out[key] = float(val)
    return out


def _quantile(metrics: dict[str, float], name: str, q: float) -> float | None:
    """histogram_quantile: linear interpolation inside the bucket holding the q-th sample."""
    buckets = sorted(
        (float("inf") if k.split('le="')[1].rstrip('"}') == "+Inf"
         else float(k.split('le="')[1].rstrip('"}')), v)
        for k, v in metrics.items() if k.startswith(f"{name}_bucket{{"))
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lo_bound, lo_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lo_bound
            return lo_bound + (bound - lo_bound) * (rank - lo_count) / max(count - lo_count, 1e-9)
        lo_bound, lo_count = bound, count
    return None


def _stored(url: str) -> int:
    with connect(url) as conn:
        return count_telemetry(conn=conn)


def _raw_copy_limit(url: str) -> tuple[int, float]:
    """Export the stored rows, empty the table, load them again with one binary COPY and no
    collector: (rows, seconds). The table ends up with the same rows."""
    with connect(url) as conn:
        data = export_telemetry(conn=conn)
        n = count_telemetry(conn=conn)
        empty_telemetry(conn=conn, checkpoint=True)
        t0 = time.perf_counter()
        copy_encoded(conn=conn, data=data)
        conn.commit()
        return n, time.perf_counter() - t0


def _dedup_costs(url: str, limit: int = 1_000_000) -> dict[str, float]:
    """Points/s of the three ways a batch can go in, on the same rows into an empty table:
    plain COPY (the normal path), staging + ON CONFLICT with nothing to skip, and the same
    again when every point is already stored (a replay)."""
    with connect(url) as conn:
        data = export_telemetry(conn=conn, limit=limit)
        n = min(limit, count_telemetry(conn=conn))
        out: dict[str, float] = {"dedup_sample_points": n}
        for name in ("copy", "staged_new", "staged_replay"):
            if name != "staged_replay":
                empty_telemetry(conn=conn)
            t0 = time.perf_counter()
            if name == "copy":
                copy_encoded(conn=conn, data=data)
            else:
                insert_new(conn=conn, data=data)
            conn.commit()
            out[f"{name}_points_per_second"] = round(n / (time.perf_counter() - t0), 1)
        return out


def _compressed_estimate(url: str, sample: int = 300_000) -> float:
    """Bytes per point of the narrow layout in a compressed TimescaleDB chunk, estimated from
    the stored values (TimescaleDB cannot run here). With ``compress_segmentby = 'robot_id,
    signal_id'`` and ``orderby = 'time'`` (migration 0002) a chunk keeps per series batches of
    up to 1,000 rows: the ids once per batch, time delta-of-delta coded (a steady cadence costs
    ~1 bit), quality run-length coded (~0), value Gorilla XOR coded. The value is computed here
    exactly as Gorilla without its window-reuse case (so an upper bound): 1 bit for an
    unchanged value, else 2 + 5 + 6 control bits plus the meaningful bits of the XOR with the
    previous value; plus ~120 bytes of row header and min/max metadata per 1,000-row batch."""
    with connect(url) as conn:
        rows = series_values_sample(conn=conn, limit=sample)
    if len(rows) < 2:
        return 0.0
    import numpy as np

    vals = np.array([r[2] for r in rows], dtype=np.float64).view(np.uint64)
    key = np.array([r[0] * 65536 + r[1] for r in rows], dtype=np.int64)
    xor = (vals[1:] ^ vals[:-1]).tolist()
    same_series = (key[1:] == key[:-1]).tolist()
    bits = 64  # the first value
    for x, same in zip(xor, same_series, strict=True):
        if not same:
            bits += 64
        elif x == 0:
            bits += 1
        else:
            lz = 64 - x.bit_length()
            tz = (x & -x).bit_length() - 1
            bits += 13 + 64 - lz - tz
    n = len(rows)
    return round(bits / 8 / n + 1 / 8 + 120 / 1000, 2)


def _layout_sizes(url: str) -> dict[str, float]:
    """Bytes per point: the narrow table as stored, and the same points one row per robot tick."""
    with connect(url) as conn:
        n, narrow, wide = layout_bytes(conn=conn)
    return {"bytes_per_point_narrow": round(narrow / n, 2) if n else 0.0,
            "bytes_per_point_wide": round(wide / n, 2) if n else 0.0,
            "bytes_per_point_timescale_compressed_estimate": _compressed_estimate(url)}


def _wait_metrics(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            m = _scrape(port)
            if any(k.startswith("robowatch_source_connected") and v == 1 for k, v in m.items()):
                return
        time.sleep(0.2)
    raise RuntimeError(f"collector not connected within {timeout:g} s")


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_ingest(kind: str, robots: int, signals: int, rate: float, seconds: float,
         settings_url: str | None, broker: str | None, tmp: Path,
         n_collectors: int, mqtt_protocol: str = "auto") -> dict[str, Any]:
    from simulators.model import FleetModel
    from simulators.registry import fleet_spec
    from simulators.scenario import Scenario, packaged_scenario_path

    sc = Scenario.load(packaged_scenario_path("bench")).scaled(robots)
    # OPC UA serves every signal of the model; MQTT sends the first ``signals``.
    all_signals = len(FleetModel(sc, seed=0).signal_names)
    n_signals = min(signals, all_signals) if kind == "mqtt" else all_signals
    with contextlib.ExitStack() as stack:
        url, postmaster, env = prepared_database(stack, settings_url, tmp, fleet_spec(sc))
        mports = [free_port() for _ in range(max(n_collectors, 1))]
        mport = mports[0]
        opc_port = free_port()
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        exe = [sys.executable, "-m", "robowatch", "--log-level", "WARNING", "collect"]
        sim = None
        if kind == "mqtt":
            burl = broker or stack.enter_context(local_broker("mosquitto"))[0]
            cmd = [*exe, "mqtt", "--url", burl, "--protocol", mqtt_protocol,
                   "--client-id", f"rw-bench-{os.getpid()}",
                   "--metrics-port", str(mport), "--spool-dir", str(tmp / "spool")]
        else:
            burl = ""
            # The server must exist before the collector browses it: start the simulator first.
            sim = ctx.Process(target=_simulate, args=(kind, burl, robots, signals, rate,
                                                      seconds + 30, opc_port, out), daemon=True)
            sim.start()
            out.get(timeout=120)  # ready
            cmd = [*exe, "opcua", "--endpoint",
                   f"opc.tcp://127.0.0.1:{opc_port}/robowatch/simulator",
                   "--metrics-port", str(mport), "--spool-dir", str(tmp / "spool")]
        collectors = []
        for i in range(n_collectors if kind == "mqtt" else 1):
            argv = list(cmd)
            if kind == "mqtt" and n_collectors > 1:
                # Shared subscription: the processes split the messages between them.
                argv[argv.index("--client-id") + 1] += f"-{i}"
                argv += ["--share-group", "bench"]
            argv[argv.index("--metrics-port") + 1] = str(mports[i])
            argv[argv.index("--spool-dir") + 1] = str(tmp / f"spool-{i}")
            with open(tmp / f"collector-{i}.log", "wb") as err:
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
            collectors.append(proc)
            stack.callback(_stop_process, proc)
        for port, proc in zip(mports, collectors, strict=False):
            _wait_metrics(port, proc, 120)
        mosq = next((p for p in psutil.Process().children() if p.name() == "mosquitto"), None)
        procs = {f"collector-{i}" if len(collectors) > 1 else "collector": psutil.Process(c.pid)
                 for i, c in enumerate(collectors)}
        cpu0 = {name: _cpu(p, False) for name, p in procs.items()}
        cpu0 |= {"broker": _cpu(mosq, False), "database": _cpu(postmaster, True)}
        stored0 = _stored(url)
        t_start = time.time()
        if kind == "mqtt":
            sim = ctx.Process(target=_simulate, args=(kind, burl, robots, signals, rate, seconds,
                                                      opc_port, out), daemon=True)
            sim.start()
            t_start = out.get(timeout=120)["ready"]  # the first tick follows at once
        assert sim is not None and sim.pid is not None
        sim_proc = psutil.Process(sim.pid)
        cpu0["simulator"] = _cpu(sim_proc, False)
        if kind == "opcua":
            time.sleep(seconds)
        if kind == "mqtt":
            sim_cpu = 0.0
            while sim.is_alive():
                with contextlib.suppress(psutil.Error):
                    sim_cpu = _cpu(sim_proc, False)
                time.sleep(0.2)
            report_sim = out.get(timeout=30)
            expected = int(report_sim["points_acked"] or 0)
        else:
            sim_cpu = _cpu(sim_proc, False)
            sim.terminate()  # the server stops: what the collector has now is the run
            sim.join(30)
            report_sim = {}
            expected = -1
        # Drain: until every acknowledged point is stored, or nothing moves for 10 s. The
        # collectors' own counters are cheap to poll (a count(*) of millions of rows is not).
        def written() -> float:
            total = 0.0
            for port in mports[:len(collectors)]:
                with contextlib.suppress(OSError):
                    total += _scrape(port).get("robowatch_points_written_total", 0.0)
            return total

        idle_s = 10.0 if kind == "mqtt" else 3.0
        last, last_change, t_end = -1.0, time.monotonic(), time.time()
        while True:
            now = time.time()
            n = written()
            if n != last:
                last, last_change, t_end = n, time.monotonic(), now
            if (expected >= 0 and n >= expected) or time.monotonic() - last_change > idle_s:
                break
            time.sleep(0.05)
        cpu1 = {name: _cpu(p, False) for name, p in procs.items()}
        cpu1 |= {"broker": _cpu(mosq, False), "database": _cpu(postmaster, True),
                 "simulator": sim_cpu}
        metrics: dict[str, float] = {}
        for port in mports[:len(collectors)]:
            for k, v in _scrape(port).items():
                metrics[k] = metrics.get(k, 0.0) + v  # counters and buckets add up
        for c in collectors:
            _stop_process(c)
        stored = _stored(url) - stored0
        elapsed = max(t_end - t_start, 1e-9)
        pps = stored / elapsed
        sizes = _layout_sizes(url)
        copied, copy_s = _raw_copy_limit(url)
        dedup = _dedup_costs(url)
        limit = copied / copy_s if copy_s else 0.0
        cpu = {k: round(cpu1[k] - cpu0.get(k, 0.0), 2) for k in cpu1}
        report: dict[str, Any] = {
            "benchmark": "ingest", "protocol": kind, "robots": robots, "signals": n_signals,
            "rate_hz": rate, "seconds": seconds,
            "collectors": len(collectors),
            "mqtt_protocol": mqtt_protocol if kind == "mqtt" else None,
            "offered_points_per_second": robots * n_signals * rate,
            "points_per_second": round(pps, 1),
            "copy_limit_points_per_second": round(limit, 1),
            "ratio": round(pps / limit, 4) if limit else None,
            "ingest_lag_p50_s": _round(_quantile(metrics, "robowatch_ingest_lag_seconds", 0.5)),
            "ingest_lag_p99_s": _round(_quantile(metrics, "robowatch_ingest_lag_seconds", 0.99)),
            "stored_points": stored,
            "published_points": expected if expected >= 0 else None,
            "lost_points": max(0, expected - stored) if expected >= 0 else None,
            "elapsed_s": round(elapsed, 2),
            "cpu_s": cpu,
            "cpu_share_of_one_core": {k: round(v / elapsed, 3) for k, v in cpu.items()},
            "spooled_points": metrics.get("robowatch_points_spooled_total", 0.0),
            "duplicate_points_skipped": metrics.get("robowatch_points_duplicate_total", 0.0),
            "simulator": report_sim,
            "database": "external" if settings_url else "embedded",
            **sizes,
            "write_paths": dedup,
        }
        if kind == "opcua":
            report["values_per_second_per_process"] = round(pps / len(collectors), 1)
            report["lost_points"] = None  # the server overwrites values: no count of "sent"
        return report


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)
