"""``bench ingest --capacity``: how fast the collector stores, when the offer is not the limit.

``bench ingest`` offers a fixed rate, so its stored rate can never exceed the offer and its
ratio to raw COPY is capped by the load we chose. Here the collector drains a backlog instead:

1. the collector processes start once, so the broker knows their persistent sessions (QoS 1,
   session expiry one hour), and stop;
2. the simulator publishes ``robots x signals x rate x seconds`` points while no collector
   runs; Mosquitto queues them for the sessions (its bench configuration allows 1M queued
   messages, ``simulators/brokers.py``);
3. the collectors start again and drain the queue as fast as they can store it.

Stored points/s = points stored / (last commit - first commit) of the drain. In the same run,
the raw limit: the very rows just stored, exported, the table emptied, and loaded again by one
``COPY`` (``copy_limit``). Lost points: acknowledged by the broker minus stored; duplicated
points: stored rows minus distinct (robot, signal, time) keys. The last line is one JSON object.

With ``profile``, the first collector drains under cProfile (its main thread: the event loop,
where paho reads and decodes) and writes its statistics there when it stops; the figures of
such a run carry the profiler's overhead and are not the capacity.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.ingest import (
    _cpu,
    _quantile,
    _raw_copy_limit,
    _scrape,
    _simulate,
    _stop_process,
    _wait_metrics,
    prepared_database,
)
from simulators.brokers import free_port, local_broker
from storage.connect import connect
from storage.measure import count_telemetry, duplicate_keys

__all__ = ["run_capacity"]


def _start_collectors(stack: contextlib.ExitStack, argv0: list[str], n: int, ports: list[int],
                      tmp: Path, env: dict[str, str], tag: str,
                      wait: bool = True) -> list[subprocess.Popen[bytes]]:
    """Start ``n`` collectors (stopped when ``stack`` closes, whatever happens next)."""
    procs = []
    for i in range(n):
        argv = [*argv0, "--client-id", f"rw-capacity-{os.getpid()}-{i}",
                "--metrics-port", str(ports[i]), "--spool-dir", str(tmp / f"spool-{i}")]
        if n > 1:
            argv += ["--share-group", "capacity"]
        with open(tmp / f"collector-{i}-{tag}.log", "wb") as err:
            procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err))
        stack.callback(_stop_process, procs[-1])
    if wait:
        for port, proc in zip(ports, procs, strict=False):
            _wait_metrics(port, proc, 120)
    return procs


def run_capacity(robots: int, signals: int, rate: float, seconds: float,
                 settings_url: str | None, broker: str | None, tmp: Path,
                 n_collectors: int, progress: Any = print,
                 profile: Path | None = None, mqtt_protocol: str = "auto") -> dict[str, Any]:
    from simulators.registry import fleet_spec
    from simulators.scenario import Scenario, packaged_scenario_path

    sc = Scenario.load(packaged_scenario_path("bench")).scaled(robots)
    with contextlib.ExitStack() as stack:
        url, postmaster, env = prepared_database(stack, settings_url, tmp, fleet_spec(sc))
        burl = broker or stack.enter_context(local_broker("mosquitto"))[0]
        ports = [free_port() for _ in range(n_collectors)]
        argv0 = [sys.executable, "-m", "robowatch", "--log-level", "WARNING", "collect", "mqtt",
                 "--url", burl, "--protocol", mqtt_protocol]
        progress(f"creating {n_collectors} persistent session(s) on {burl}")
        for proc in _start_collectors(stack, argv0, n_collectors, ports, tmp, env, "session"):
            _stop_process(proc)

        offered = robots * min(signals, 56) * rate * seconds
        progress(f"publishing a backlog of {offered:,.0f} points ({seconds:g} s of "
                 f"{robots} robots x {signals} signals x {rate:g} Hz) with no collector running")
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        sim = ctx.Process(target=_simulate, args=("mqtt", burl, robots, signals, rate, seconds,
                                                  0, out), daemon=True)
        sim.start()
        out.get(timeout=120)  # ready
        report_sim = out.get(timeout=seconds + 300)
        sim.join(30)
        expected = int(report_sim["points_acked"] or 0)

        progress(f"draining {expected:,} acknowledged points")
        # Not waiting for "connected": with a full queue the broker starts sending at once.
        drain0 = argv0 if profile is None else [
            sys.executable, "-m", "cProfile", "-o", str(profile), *argv0[1:]]
        collectors = _start_collectors(stack, drain0, n_collectors, ports, tmp, env, "drain",
                                       wait=False)
        procs = {f"collector-{i}": psutil.Process(c.pid) for i, c in enumerate(collectors)}
        mosq = next((p for p in psutil.Process().children() if p.name() == "mosquitto"), None)
        cpu0 = {name: _cpu(p, False) for name, p in procs.items()}
        cpu0 |= {"broker": _cpu(mosq, False), "database": _cpu(postmaster, True)}

        def written() -> float:
            total = 0.0
            for port in ports:
                with contextlib.suppress(OSError):
                    total += _scrape(port).get("robowatch_points_written_total", 0.0)
            return total

        t_first: float | None = None
        last, last_change, t_end, shown = -1.0, time.monotonic(), time.time(), time.monotonic()
        while True:
            now, n = time.time(), written()
            if n > 0 and t_first is None:
                t_first = now
            if n != last and n > 0:
                last, last_change, t_end = n, time.monotonic(), now
            if n >= expected:
                break
            # Before the first write the collector is still starting (and its metrics may not
            # answer yet): wait for it; after, 30 s without progress ends the drain.
            waited = time.monotonic() - last_change
            if (t_first is not None and waited > 30.0) or waited > 300.0:
                break
            dead = [c for c in collectors if c.poll() is not None]
            if dead:
                log = (tmp / "collector-0-drain.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"a collector exited during the drain:\n{log}")
            if time.monotonic() - shown > 5:
                progress(f"  {n:,.0f} / {expected:,} stored")
                shown = time.monotonic()
            time.sleep(0.02)
        cpu1 = {name: _cpu(p, False) for name, p in procs.items()}
        cpu1 |= {"broker": _cpu(mosq, False), "database": _cpu(postmaster, True)}
        metrics: dict[str, float] = {}
        for port in ports:
            for k, v in _scrape(port).items():
                metrics[k] = metrics.get(k, 0.0) + v
        for c in collectors:
            _stop_process(c)
        with connect(url) as conn:
            stored = count_telemetry(conn=conn)
            duplicated = duplicate_keys(conn=conn)
        elapsed = max(t_end - (t_first or t_end), 1e-9)
        pps = stored / elapsed
        progress("measuring the raw COPY limit on the same rows")
        copied, copy_s = _raw_copy_limit(url)
        limit = copied / copy_s if copy_s else 0.0
        cpu = {k: round(cpu1[k] - cpu0.get(k, 0.0), 2) for k in cpu1}
        return {
            "benchmark": "ingest-capacity", "protocol": "mqtt", "robots": robots,
            "signals": signals, "collectors": n_collectors, "backlog_points": expected,
            "points_per_second": round(pps, 1),
            "copy_limit": round(limit, 1),
            "ratio": round(pps / limit, 4) if limit else None,
            "lost_points": max(0, expected - stored),
            "duplicated_points": duplicated,
            "stored_points": stored,
            "drain_s": round(elapsed, 2),
            "redelivered_points_skipped": metrics.get("robowatch_points_duplicate_total", 0.0),
            "commit_lag_p99_s": _quantile(metrics, "robowatch_ingest_lag_seconds", 0.99),
            "cpu_share_of_one_core": {k: round(v / elapsed, 3) for k, v in cpu.items()},
            # CPU per stored point: what the machine's other load changes least (the shares
            # above fall when other processes take the cores).
            "cpu_us_per_point": {k: round(v / max(stored, 1) * 1e6, 2) for k, v in cpu.items()},
            "database": "external" if settings_url else "embedded",
            "profiled": profile is not None, "mqtt_protocol": mqtt_protocol,
        }
