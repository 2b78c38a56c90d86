"""``bench simulate``: how many points per second the simulator gets acknowledged.

Publishes the benchmark fleet (``simulators/scenarios/bench.toml`` scaled to ``--robots``)
to a real broker for ``--seconds`` and counts the points in messages the broker acknowledged
(QoS 1 PUBACKs), over the time from the first tick until everything queued is acknowledged.
The broker is ``ROBOWATCH_MQTT_URL`` when set; otherwise a Mosquitto started here on a free
port (amqtt when Mosquitto is not installed). The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import os
import resource
from typing import Any

from simulators.runner import RunConfig, run
from simulators.scenario import Scenario, packaged_scenario_path

__all__ = ["measure_publish"]


def measure_publish(*, url: str, robots: int, signals: int, rate: float, seconds: float,
                    qos: int) -> dict[str, Any]:
    """Publish the benchmark fleet to the broker at ``url``; the JSON report."""
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(robots)
    requested = robots * signals * rate
    config = RunConfig(rate_hz=rate, duration_s=seconds, protocol="mqtt", mqtt_url=url,
                       mqtt_qos=qos, mqtt_signals=signals,
                       client_id_suffix=f"bench{os.getpid()}", run_id="bench")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(run(sc, config))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    stats = result.mqtt
    if stats is None:
        raise RuntimeError("no MQTT robots in the benchmark fleet")
    # A tick stands for one period: n ticks cover n periods even if the last one's
    # acknowledgements arrive before its period ends.
    span = max(result.ticking_s, result.ticks / rate)
    achieved = stats.points_acked / span if span else 0.0
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "benchmark": "simulate", "robots": robots, "signals": signals, "rate_hz": rate,
        "seconds": seconds, "qos": qos,
        "requested_points_per_second": round(requested, 1),
        "achieved_points_per_second": round(achieved, 1),
        "ratio": round(achieved / requested, 4) if requested else None,
        "messages_acked": stats.messages_acked, "messages_dropped": stats.messages_dropped,
        "ticks": result.ticks, "ticks_skipped": result.skipped_ticks,
        "elapsed_s": round(span, 3), "cpu_s": round(cpu, 2),
    }
