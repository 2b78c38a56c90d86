"""``bench latency``: sample-to-anomaly latency through the whole real path.

Simulator (MQTT) -> Mosquitto -> collector -> PostgreSQL -> ``robowatch detect run``, each an
OS process as in ``bench ingest``. Every robot gets one collision at a known scenario second,
spread over the run; the controller raises alarm 2001 on the first faulty sample and the engine
opens a ``collision`` anomaly from it at once, so what is measured is the pipeline, not a
detector's persistence.

Per fault: ``latency`` = the anomaly row's ``created_at`` - the sample time of the robot's first
stored sample with the alarm (from ``telemetry``, so the same clock and the real first sample);
``engine`` = the anomaly's ``detected_at`` (sample time of the point that opened it) - that
sample time: the engine's own decision, 0 for an alarm; ``pipeline`` = the rest (publish,
broker, collector batch, commit, poll, persist). The last line printed is one JSON object.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import psutil

from benchmarks.ingest import _cpu, _stop_process, _wait_metrics, prepared_database
from simulators.brokers import free_port, local_broker
from storage.connect import connect
from storage.measure import alarm_latencies

log = logging.getLogger(__name__)

_FAULT_KIND = "collision"


def _scenario(robots: int, seconds: float, warmup_s: float, tail_s: float) -> Any:
    """The bench fleet scaled to ``robots``, one collision per robot at spread instants."""
    from simulators.scenario import Fault, Scenario, packaged_scenario_path

    sc = Scenario.load(packaged_scenario_path("bench")).scaled(robots)
    placed = sc.robots()
    span = max(seconds - warmup_s - tail_s, 1.0)
    faults = tuple(
        Fault(robot=p.robot.code, component="J1", kind=_FAULT_KIND,
              onset_s=warmup_s + span * i / len(placed), duration_s=3.0)
        for i, p in enumerate(placed))
    return replace(sc, faults=faults)


def _simulate(url: str, robots: int, rate: float, seconds: float, warmup_s: float,
              tail_s: float, out: Any) -> None:
    """Body of the simulator process (spawned: a fresh interpreter, no inherited state)."""
    import asyncio

    from simulators.runner import RunConfig, run

    logging.basicConfig(level=logging.WARNING)
    sc = _scenario(robots, seconds, warmup_s, tail_s)
    cfg = RunConfig(rate_hz=rate, duration_s=seconds, protocol="mqtt", mqtt_url=url, mqtt_qos=1,
                    client_id_suffix=f"latency{os.getpid()}", run_id="bench-latency")
    result = asyncio.run(run(sc, cfg, on_ready=lambda *_: out.put({"ready": time.time()})))
    out.put({"ticks": result.ticks, "skipped": result.skipped_ticks,
             "late_ticks": result.late_ticks})


class _Fault(TypedDict):
    """One robot's alarm, Unix seconds; the anomaly's times are None when none was made."""

    robot_id: int
    fault_at: float
    detected_at: float | None
    created_at: float | None


def _measure(url: str) -> list[_Fault]:
    """Per robot with a collision anomaly or alarm: first alarm sample, detected_at, created_at."""
    with connect(url) as conn:
        rows = alarm_latencies(conn=conn, alarm_code=2001, kind=_FAULT_KIND)
    return [{"robot_id": r[0], "fault_at": r[1], "detected_at": r[2], "created_at": r[3]}
            for r in rows]


def _read_paths(url: str, window_s: float, repeat: int = 5) -> dict[str, float]:
    """Seconds to turn the newest ``window_s`` of stored telemetry into an engine batch: the
    row reader with a per-row de-duplication (the service's read path before the columnar
    one), and ``read_points`` + ``fresh_batch``; best of ``repeat``, on the same rows."""
    from datetime import timedelta

    from detection.engine import Batch
    from detection.service import SeriesClock, fresh_batch
    from storage.telemetry import latest_time, read_points, read_window

    with connect(url) as conn:
        until = latest_time(conn=conn)
        if until is None:
            return {}
        after = until - timedelta(seconds=window_s)
        rows_t, cols_t, n = [], [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = read_window(conn=conn, after=after, until=until)
            last: dict[tuple[int, int], float] = {}
            owned = []
            for tm, rid, sid, val in rows:
                ts = tm.timestamp()
                if ts <= last.get((rid, sid), float("-inf")):
                    continue
                last[(rid, sid)] = ts
                owned.append((ts, rid, sid, val))
            owned.sort()
            Batch.from_rows(owned)
            rows_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            n = len(fresh_batch(read_points(conn=conn, after=after, until=until), SeriesClock()))
            cols_t.append(time.perf_counter() - t0)
    return {"points": n, "window_s": window_s, "row_reader_s": round(min(rows_t), 4),
            "columnar_s": round(min(cols_t), 4),
            "speedup": round(min(rows_t) / max(min(cols_t), 1e-9), 1)}


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def run_latency(robots: int, rate: float, seconds: float, policy: Path | None,
         settings_url: str | None, broker: str | None, tmp: Path) -> dict[str, Any]:
    from simulators.registry import fleet_spec

    warmup_s, tail_s = 10.0, 10.0
    sc = _scenario(robots, seconds, warmup_s, tail_s)
    with contextlib.ExitStack() as stack:
        url, _, env = prepared_database(stack, settings_url, tmp, fleet_spec(sc))
        burl = broker or stack.enter_context(local_broker("mosquitto"))[0]
        mport = free_port()
        exe = [sys.executable, "-m", "robowatch", "--log-level", "WARNING"]
        with open(tmp / "collector.log", "wb") as err:
            collector = subprocess.Popen(
                [*exe, "collect", "mqtt", "--url", burl, "--client-id", f"rw-lat-{os.getpid()}",
                 "--metrics-port", str(mport), "--spool-dir", str(tmp / "spool")],
                env=env, stdout=subprocess.DEVNULL, stderr=err)
        stack.callback(_stop_process, collector)
        _wait_metrics(mport, collector, 120)
        detect_cmd = [*exe, "detect", "run", *(["--policy", str(policy)] if policy else [])]
        with open(tmp / "detect.log", "wb") as err:
            detect = subprocess.Popen(detect_cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        stack.callback(_stop_process, detect)
        time.sleep(3.0)  # the service loads its catalogue and starts polling
        if detect.poll() is not None:
            raise RuntimeError(f"detect run exited: {(tmp / 'detect.log').read_text()[-2000:]}")
        det_proc = psutil.Process(detect.pid)
        cpu0 = _cpu(det_proc, False)
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        sim = ctx.Process(target=_simulate, args=(burl, robots, rate, seconds, warmup_s, tail_s,
                                                  out), daemon=True)
        sim.start()
        t_start = out.get(timeout=120)["ready"]
        sim.join(seconds + 120)
        sim_report = out.get(timeout=30)
        time.sleep(5.0)  # the last faults' anomalies
        elapsed = time.time() - t_start
        detect_cpu = _cpu(det_proc, False) - cpu0
        _stop_process(detect)
        faults = _measure(url)
        read_paths = _read_paths(url, 5.0)
    found = [f for f in faults if f["created_at"] is not None]
    latency = [f["created_at"] - f["fault_at"] for f in faults if f["created_at"] is not None]
    engine = [f["detected_at"] - f["fault_at"] for f in found if f["detected_at"] is not None]
    pipeline = [f["created_at"] - f["detected_at"] for f in faults
                if f["created_at"] is not None and f["detected_at"] is not None]
    return {
        "benchmark": "latency", "robots": robots, "rate_hz": rate, "seconds": seconds,
        "faults_scheduled": len(sc.faults), "faults_seen_in_telemetry": len(faults),
        "anomalies_found": len(found),
        "latency_p50_s": _pct(latency, 50), "latency_p99_s": _pct(latency, 99),
        "latency_max_s": round(max(latency), 3) if latency else None,
        "engine_decision_p50_s": _pct(engine, 50), "engine_decision_p99_s": _pct(engine, 99),
        "pipeline_p50_s": _pct(pipeline, 50), "pipeline_p99_s": _pct(pipeline, 99),
        "detect_cpu_share_of_one_core": round(detect_cpu / max(elapsed, 1e-9), 3),
        "read_path_5s_window": read_paths,
        "policy": str(policy) if policy else "packaged",
        "simulator": sim_report,
    }
