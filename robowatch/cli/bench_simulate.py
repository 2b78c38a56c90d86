"""``robowatch bench simulate`` (MQTT points per second) and ``bench opcua-server`` (robots per
asyncua server process).

``bench simulate``: how many points per second the simulator gets acknowledged.

Publishes the benchmark fleet (``simulators/scenarios/bench.toml`` scaled to ``--robots``)
to a real broker for ``--seconds`` and counts the points in messages the broker acknowledged
(QoS 1 PUBACKs), over the time from the first tick until everything queued is acknowledged.
The broker is ``ROBOWATCH_MQTT_URL`` when set; otherwise a Mosquitto started here on a free
port (amqtt when Mosquitto is not installed). The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
from typing import Annotated

import typer

from robowatch.brokers import local_broker
from robowatch.cli.context import settings_of
from simulators.opcua_capacity import Criteria, capacity_report, find_capacity
from simulators.runner import RunConfig, run
from simulators.scenario import Scenario, packaged_scenario_path
from simulators.signals import catalogue

log = logging.getLogger(__name__)


def bench_simulate(
    ctx: typer.Context,
    robots: Annotated[int, typer.Option(help="Robots in the fleet.", min=1)] = 200,
    signals: Annotated[int, typer.Option(help="Signals per message.", min=1, max=56)] = 50,
    rate: Annotated[float, typer.Option(help="Messages per robot per second.", min=0.1)] = 10.0,
    seconds: Annotated[float, typer.Option(help="How long to publish.", min=1.0)] = 30.0,
    qos: Annotated[int, typer.Option(help="MQTT QoS.", min=0, max=2)] = 1,
    broker: Annotated[str, typer.Option(
        help="auto, mosquitto or amqtt: which local broker to start when no URL is set.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line on stdout.")] = False,
) -> None:
    """Publish a simulated fleet to a real broker; report requested vs achieved points/s."""
    settings = settings_of(ctx)
    sc = Scenario.load(packaged_scenario_path("bench")).scaled(robots)
    requested = robots * signals * rate

    def measure(url: str) -> dict[str, object]:
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

    if settings.mqtt_url:
        report = measure(settings.mqtt_url) | {"broker": "external"}
    else:
        with local_broker(broker) as (url, which):
            report = measure(url) | {"broker": which}
    if not as_json:
        typer.echo(f"requested {requested:,.0f} points/s, achieved "
                   f"{report['achieved_points_per_second']:,.0f} points/s "
                   f"({report['broker']} broker, {report['cpu_s']} s CPU)")
    typer.echo(json.dumps(report))


def bench_opcua_server(
    rate: Annotated[float, typer.Option(help="Samples per robot per second.", min=0.1)] = 10.0,
    seconds: Annotated[float, typer.Option(help="Measured window of each trial.", min=2.0)] = 10.0,
    start: Annotated[int, typer.Option(help="First fleet size tried (then doubled).",
                                       min=1)] = 25,
    max_robots: Annotated[int, typer.Option(help="Largest fleet size tried.", min=1)] = 1000,
    resolution: Annotated[int, typer.Option(help="Bisect until within this many robots.",
                                            min=1)] = 10,
    sample_robots: Annotated[int, typer.Option(
        help="Robots whose variables the client subscribes to.", min=1)] = 10,
    min_received: Annotated[float, typer.Option(
        help="Pass: fraction of sampled values the client must receive.")] = 0.99,
    max_late: Annotated[float, typer.Option(
        help="Pass: fraction of ticks allowed to end after the next was due.")] = 0.01,
    max_latency: Annotated[float, typer.Option(
        help="Pass: 99th-percentile notification latency, seconds.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Only the JSON line on stdout.")] = False,
) -> None:
    """Find how many robots one asyncua server process serves at --rate without falling behind."""
    sc = Scenario.load(packaged_scenario_path("bench"))
    criteria = Criteria(min_received=min_received, max_late=max_late, max_latency_s=max_latency)
    result = asyncio.run(find_capacity(
        sc, rate_hz=rate, seconds=seconds, start=start, max_robots=max_robots,
        resolution=resolution, sample_robots=sample_robots, criteria=criteria))
    report = {"benchmark": "opcua-server", "rate_hz": rate, "seconds": seconds,
              "signals_per_robot": len(catalogue()),
              "criteria": {"min_received": min_received, "max_late": max_late,
                           "max_latency_s": max_latency}} | capacity_report(result)
    if not as_json:
        for t in result.trials:
            typer.echo(f"{t.robots:5d} robots: {'pass' if t.passed else 'FAIL'}  "
                       f"late {t.ticks_late}/{t.ticks}, received {t.received_ratio:.4f}, "
                       f"p99 {t.latency_p99_s} s, {t.values_per_second:,.0f} values/s  "
                       f"({t.reason})")
        typer.echo(f"one asyncua server process serves {result.capacity_robots} robots "
                   f"at {rate:g} Hz")
    typer.echo(json.dumps(report))
