"""How many robots one asyncua server process serves at a given rate without falling behind.

A *trial* runs the real simulator loop (:func:`simulators.runner.run`, OPC UA only) with N
robots of the benchmark fleet, while a real asyncua client in another process subscribes to a
sample of the robots' variables, the way ``collectors/opcua.py`` does (publishing interval
100 ms, queue 10, sampling interval 0) except that the trigger is ``StatusValueTimestamp``, so
every write is one notification even when a value repeats. After the client is subscribed the
trial measures a window of ``seconds``. It passes when:

- no tick was skipped and at most ``max_late`` of the ticks ended after the next was due;
- the client received at least ``min_received`` of the samples written in the window on its
  sampled nodes, with a 99th-percentile latency (arrival minus SourceTimestamp) of at most
  ``max_latency_s``.

:func:`find_capacity` doubles N from ``start`` until a trial fails, then bisects between the
last pass and the first failure. Each trial builds a fresh server holding exactly N robots;
the build time is not part of the measurement.

``python -m benchmarks.opcua_capacity URL NODE_ID...`` is the client side: it prints
``ready`` once subscribed, reads ``<window start> <window end>`` (Unix seconds) on stdin and
prints one JSON object with what it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from simulators.opcua import NAMESPACE_URI, OpcUaConfig
from simulators.runner import FleetServer, RunConfig, RunResult, run
from simulators.scenario import Scenario
from simulators.signals import catalogue

__all__ = ["Criteria", "TrialResult", "CapacityResult", "trial", "find_capacity",
           "DEFAULT_SAMPLE_SIGNALS"]

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_SIGNALS = ("J1.position", "J2.current", "J3.temperature", "J6.vibration",
                          "cycle_count")
_CLIENT_START_TIMEOUT_S = 120.0
_LINGER_S = 1.5  # after the window: notifications still in flight reach the client


@dataclass(frozen=True, slots=True, kw_only=True)
class Criteria:
    min_received: float = 0.99
    max_late: float = 0.01
    max_latency_s: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialResult:
    robots: int
    passed: bool
    ticks: int
    ticks_skipped: int
    ticks_late: int
    max_lag_s: float
    sampled_nodes: int
    expected_samples: int
    received_samples: int
    received_ratio: float
    latency_p50_s: float | None
    latency_p99_s: float | None
    values_per_second: float   # writes per second over the whole trial
    cpu_s: float               # this (server) process, build included
    build_s: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityResult:
    capacity_robots: int         # largest N that passed (0: none did)
    first_failing_robots: int | None
    trials: list[TrialResult]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sample_node_ids(codes: Sequence[str], sample_robots: int,
                     signals: Sequence[str]) -> list[str]:
    """String NodeIds of ``signals`` on ``sample_robots`` robots spread evenly over ``codes``."""
    paths = {sp.name: "/".join(sp.browse_path) for sp in catalogue()}
    unknown = [s for s in signals if s not in paths]
    if unknown:
        raise ValueError(f"unknown signals {unknown}")
    k = max(1, min(sample_robots, len(codes)))
    picked = [codes[round(i * (len(codes) - 1) / max(1, k - 1))] for i in range(k)]
    return [f"{code}/{paths[s]}" for code in dict.fromkeys(picked) for s in signals]


def _percentile(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(q * len(ys)))]


async def trial(scenario: Scenario, *, rate_hz: float, seconds: float, sample_robots: int = 10,
                sample_signals: Sequence[str] = DEFAULT_SAMPLE_SIGNALS,
                criteria: Criteria = Criteria(), seed: int = 0) -> TrialResult:
    """One fleet size: serve ``scenario`` over OPC UA and measure one window."""
    n = len(scenario.robots())
    port = _free_port()
    ready = asyncio.Event()
    stop = asyncio.Event()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t_begin = time.monotonic()
    build_s = 0.0

    def on_ready(_model: object, _server: FleetServer | None) -> None:
        nonlocal build_s
        build_s = time.monotonic() - t_begin
        ready.set()

    endpoint = OpcUaConfig(port=port)
    config = RunConfig(rate_hz=rate_hz, seed=seed, protocol="opcua", opcua=endpoint,
                       run_id=f"opcua-capacity-{n}")
    runner = asyncio.create_task(run(scenario, config, on_ready=on_ready, stop=stop))
    client: asyncio.subprocess.Process | None = None
    report: dict[str, Any] = {}
    try:
        await _first(ready.wait(), runner)
        node_ids = _sample_node_ids([p.robot.code for p in scenario.robots()], sample_robots,
                                    sample_signals)
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.opcua_capacity", endpoint.url, *node_ids,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        if client.stdout is None or client.stdin is None:
            raise RuntimeError("capacity client started without pipes")
        line = await asyncio.wait_for(_first(client.stdout.readline(), runner),
                                      _CLIENT_START_TIMEOUT_S)
        if line.strip() != b"ready":
            raise RuntimeError(f"capacity client failed to subscribe: {line!r}")
        window = (time.time() + 1.0, time.time() + 1.0 + seconds)
        client.stdin.write(f"{window[0]} {window[1]}\n".encode())
        await client.stdin.drain()
        out = await asyncio.wait_for(_first(client.stdout.readline(), runner),
                                     seconds + 30.0)
        report = json.loads(out)
    finally:
        stop.set()
        result: RunResult | None = None
        with contextlib.suppress(asyncio.CancelledError):
            result = await runner
        if client is not None and client.returncode is None:
            client.kill()
            await client.wait()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if result is None:
        raise RuntimeError("the simulator was cancelled during the trial")
    period = 1.0 / rate_hz
    start = result.start_time
    # Samples are stamped start + k / rate: count those inside the window.
    first = max(0, int((window[0] - start) / period + 1 - 1e-9))
    last = int((window[1] - start) / period - 1e-9)
    per_node = max(0, last - first + 1)
    expected = per_node * len(node_ids)
    received = int(report.get("received", 0))
    ratio = received / expected if expected else 0.0
    p50 = _percentile(report.get("latencies", []), 0.50)
    p99 = _percentile(report.get("latencies", []), 0.99)
    reasons = []
    if result.skipped_ticks:
        reasons.append(f"{result.skipped_ticks} ticks skipped")
    if result.ticks and result.late_ticks > criteria.max_late * result.ticks:
        reasons.append(f"{result.late_ticks}/{result.ticks} ticks late")
    if ratio < criteria.min_received:
        reasons.append(f"received {ratio:.4f} of samples")
    if p99 is None or p99 > criteria.max_latency_s:
        reasons.append(f"p99 latency {p99} s")
    return TrialResult(
        robots=n, passed=not reasons, ticks=result.ticks, ticks_skipped=result.skipped_ticks,
        ticks_late=result.late_ticks, max_lag_s=round(result.max_lag_s, 4),
        sampled_nodes=len(node_ids), expected_samples=expected, received_samples=received,
        received_ratio=round(ratio, 4),
        latency_p50_s=None if p50 is None else round(p50, 4),
        latency_p99_s=None if p99 is None else round(p99, 4),
        values_per_second=round(result.opcua_values / result.ticking_s, 1)
        if result.ticking_s else 0.0,
        cpu_s=round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 2),
        build_s=round(build_s, 2), reason="; ".join(reasons) or "ok")


async def _first(aw: Any, runner: asyncio.Task[RunResult]) -> Any:
    """Await ``aw``, but fail at once if the simulator task ends first (it crashed)."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task, runner}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        return task.result()
    task.cancel()
    runner.result()  # re-raises the simulator's error
    raise RuntimeError("the simulator stopped before the trial ended")


async def find_capacity(base: Scenario, *, rate_hz: float = 10.0, seconds: float = 10.0,
                        start: int = 25, max_robots: int = 1000, resolution: int = 10,
                        sample_robots: int = 10,
                        sample_signals: Sequence[str] = DEFAULT_SAMPLE_SIGNALS,
                        criteria: Criteria = Criteria()) -> CapacityResult:
    """Largest fleet (``base`` scaled) served on time: doubling, then bisection."""
    if start < 1 or max_robots < start or resolution < 1:
        raise ValueError("need 1 <= start <= max_robots and resolution >= 1")
    trials: list[TrialResult] = []

    async def ok(n: int) -> bool:
        t = await trial(base.scaled(n), rate_hz=rate_hz, seconds=seconds,
                        sample_robots=sample_robots, sample_signals=sample_signals,
                        criteria=criteria)
        log.info("OPC UA capacity: %d robots -> %s (%s)", n, "pass" if t.passed else "FAIL",
                 t.reason)
        trials.append(t)
        return t.passed

    lo, hi, n = 0, None, start
    while n <= max_robots:
        if await ok(n):
            lo = n
            n *= 2
        else:
            hi = n
            break
    if hi is None and lo < max_robots:
        if await ok(max_robots):
            return CapacityResult(capacity_robots=max_robots, first_failing_robots=None,
                                  trials=trials)
        hi = max_robots
    while hi is not None and hi - lo > resolution:
        mid = (lo + hi) // 2
        if await ok(mid):
            lo = mid
        else:
            hi = mid
    return CapacityResult(capacity_robots=lo, first_failing_robots=hi, trials=trials)


def capacity_report(result: CapacityResult) -> dict[str, Any]:
    return {"capacity_robots": result.capacity_robots,
            "first_failing_robots": result.first_failing_robots,
            "trials": [asdict(t) for t in result.trials]}


# -- client process ----------------------------------------------------------------------------

async def _client_main(url: str, node_ids: Sequence[str]) -> dict[str, Any]:
    from asyncua import ua
    from asyncua.client.client import Client
    from asyncua.ua.attribute_ids import AttributeIds

    arrivals: list[tuple[float, float]] = []  # (source timestamp, arrival), Unix seconds

    class Handler:
        def datachange_notification(self, node: object, val: object, data: Any) -> None:
            dv = data.monitored_item.Value
            if dv.SourceTimestamp is not None:
                arrivals.append((dv.SourceTimestamp.timestamp(), time.time()))

    async with Client(url=url, timeout=30) as client:
        idx = await client.get_namespace_index(NAMESPACE_URI)
        sub = await client.create_subscription(100, Handler())
        requests = []
        for handle, text in enumerate(node_ids, start=1):
            params = ua.MonitoringParameters(
                ClientHandle=handle, SamplingInterval=0.0, QueueSize=10, DiscardOldest=True,
                Filter=ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp))
            requests.append(ua.MonitoredItemCreateRequest(
                ItemToMonitor=ua.ReadValueId(NodeId=ua.NodeId(ua.String(text), ua.Int16(idx)),
                                             AttributeId=AttributeIds.Value),
                MonitoringMode=ua.MonitoringMode.Reporting, RequestedParameters=params))
        results = await sub.create_monitored_items(requests)
        bad = [r for r in results if isinstance(r, ua.StatusCode)]
        if bad:
            raise RuntimeError(f"{len(bad)} monitored items refused: {bad[0]}")
        print("ready", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        ws, we = (float(x) for x in line.split())
        await asyncio.sleep(max(0.0, we - time.time()) + _LINGER_S)
        inside = [(s, a) for s, a in arrivals if ws <= s <= we]
        return {"received": len(inside), "latencies": [round(a - s, 4) for s, a in inside]}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(_client_main(sys.argv[1], sys.argv[2:]))), flush=True)
