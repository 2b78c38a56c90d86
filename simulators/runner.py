"""Drive a fleet model at a fixed rate and feed each robot's transport; write the ground truth.

:func:`run` is one asyncio task: start the transports, then anchor the run (scenario second 0
is the first sample, however long the transports took to start), write the labels, and tick
until the duration is over or the task is cancelled (the CLI cancels it on SIGINT / SIGTERM).
On the way out, whatever the reason, MQTT says goodbye (retained ``offline``) and the OPC UA
server stops.

Sample *k* is stamped ``start + k / rate``: the instant a controller would sample it, not the
instant this process got round to it. So the same seed gives the same values at the same
scenario seconds in every run, and a slow tick does not drift the rate. A tick later than a
whole period is skipped and counted; one that merely ends after the next was due is counted
as late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from simulators.labels import Label, labels_for, to_storage, write_labels_file
from simulators.model import FleetModel
from simulators.mqtt import MqttPublisher, PublishStats
from simulators.opcua import OpcUaConfig, OpcUaFleetServer
from simulators.robotics import RoboticsConfig, RoboticsFleetServer
from simulators.scenario import PlacedRobot, Scenario
from simulators.signals import catalogue
from storage.connect import DatabaseError, connect, first_line
from storage.ground_truth import record_fault_labels

__all__ = ["RunConfig", "RunResult", "run", "split_by_protocol"]

log = logging.getLogger(__name__)

# Either address space; both take the same ticks (start, update, stop, url).
FleetServer = OpcUaFleetServer | RoboticsFleetServer

ProtocolChoice = Literal["opcua", "mqtt", "both"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    rate_hz: float = 10.0
    speedup: float = 1.0
    seed: int = 0
    duration_s: float | None = None
    protocol: ProtocolChoice = "both"
    mqtt_url: str | None = None
    mqtt_qos: int = 1
    mqtt_prefix: str = "robowatch"
    mqtt_client_id: str = "robowatch-sim"
    client_id_suffix: str | None = None  # lets two simulators share a broker
    mqtt_signals: int | None = None  # publish only the first N signals (benchmarks)
    opcua: OpcUaConfig | None = None
    # Serve the OPC UA robots in the OPC 40010 Robotics model instead of our own layout
    # (simulators/robotics.py); needs the NodeSet2 files (`make nodesets`).
    robotics_nodesets: Path | None = None
    labels_path: Path | None = None
    database_url: str | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        if self.rate_hz <= 0:
            raise ValueError(f"rate must be > 0 Hz, got {self.rate_hz}")
        if self.protocol not in ("opcua", "mqtt", "both"):
            raise ValueError(f"protocol must be opcua, mqtt or both, got {self.protocol!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    run_id: str
    start_time: float
    ticks: int
    skipped_ticks: int
    late_ticks: int   # ticks whose work ended after the next tick was due
    max_lag_s: float  # worst delay between a tick's due time and the end of its work
    opcua_values: int
    mqtt: PublishStats | None
    ticking_s: float  # first tick to the end of shutdown (MQTT drained)


def split_by_protocol(
    placed: list[PlacedRobot], choice: ProtocolChoice
) -> tuple[list[tuple[int, PlacedRobot]], list[tuple[int, PlacedRobot]]]:
    """(OPC UA robots, MQTT robots) as (model row, robot); ``both``: each robot's own."""
    opc: list[tuple[int, PlacedRobot]] = []
    mq: list[tuple[int, PlacedRobot]] = []
    for i, p in enumerate(placed):
        proto = p.robot.protocol if choice == "both" else choice
        (opc if proto == "opcua" else mq).append((i, p))
    return opc, mq


def _record_labels_in_db(url: str, labels: list[Label]) -> int:
    with connect(url) as conn:
        return record_fault_labels(conn=conn, labels=to_storage(labels))


async def run(
    scenario: Scenario, config: RunConfig, *,
    on_ready: Callable[[FleetModel, FleetServer | None], None] | None = None,
    stop: asyncio.Event | None = None,
) -> RunResult:
    """Simulate until ``config.duration_s`` elapses, ``stop`` is set or the task is cancelled."""
    loop = asyncio.get_running_loop()
    opc_robots, mqtt_robots = split_by_protocol(scenario.robots(), config.protocol)
    if mqtt_robots and not config.mqtt_url:
        raise ValueError(f"{len(mqtt_robots)} robots speak MQTT but no MQTT URL was given")
    specs = catalogue()
    server: FleetServer | None = None
    publisher: MqttPublisher | None = None
    db_labels: asyncio.Task[None] | None = None
    ticks = skipped = late = opc_values = 0
    max_lag = 0.0
    t_first: float | None = None
    start = time.time()
    run_id = config.run_id or f"{scenario.name}-{config.seed}-{int(start)}"
    try:
        if opc_robots:
            opc = config.opcua or OpcUaConfig()
            if config.robotics_nodesets is not None:
                server = RoboticsFleetServer(
                    config=RoboticsConfig(nodeset_dir=config.robotics_nodesets, host=opc.host,
                                          port=opc.port), robots=opc_robots, specs=specs)
            else:
                server = OpcUaFleetServer(config=opc, robots=opc_robots, specs=specs)
            await server.start()
        if mqtt_robots and config.mqtt_url:
            publisher = MqttPublisher(
                url=config.mqtt_url, robots=mqtt_robots, signal_names=[s.name for s in specs],
                columns=None if config.mqtt_signals is None else range(
                    min(config.mqtt_signals, len(specs))),
                qos=config.mqtt_qos, prefix=config.mqtt_prefix,
                client_id=config.mqtt_client_id + (
                    f"-{config.client_id_suffix}" if config.client_id_suffix else ""))
            await publisher.start()

        # Scenario second 0 is the first sample: a fault at onset 10 s is never missed
        # because a large OPC UA address space took 15 s to build.
        t0 = t_first = loop.time()
        start = time.time()
        run_id = config.run_id or f"{scenario.name}-{config.seed}-{int(start)}"
        model = FleetModel(scenario, seed=config.seed, speedup=config.speedup, start_time=start)
        labels = labels_for(scenario.faults, run_id=run_id, start_time=start,
                            speedup=config.speedup)
        if config.labels_path is not None:
            write_labels_file(config.labels_path, labels)
            log.info("ground truth: %d fault labels in %s", len(labels), config.labels_path)
        if config.database_url and labels:
            # In the background: a slow database must not delay the first samples.
            db_labels = asyncio.create_task(_record_labels(config.database_url, labels, run_id))
        if on_ready is not None:
            on_ready(model, server)

        period = 1.0 / config.rate_hz
        end = None if config.duration_s is None else t0 + config.duration_s
        k = 0
        while (end is None or t0 + k * period < end) and not (stop and stop.is_set()):
            due = t0 + k * period
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > period:
                behind = int(-delay // period)
                skipped += behind
                k += behind
                log.debug("simulator behind: skipped %d ticks", behind)
                continue
            ts = start + k * period
            values = model.step(ts)
            publishing = model.publishing
            if publisher is not None:
                await asyncio.to_thread(publisher.publish_tick, ts, values, publishing)
            if server is not None:
                opc_values += await server.update(ts, values, publishing)
            lag = loop.time() - due
            max_lag = max(max_lag, lag)
            late += lag > period
            ticks += 1
            k += 1
        if skipped:
            log.warning("simulator could not keep %.1f Hz: %d ticks skipped", config.rate_hz,
                        skipped)
    finally:
        # Shielded: a second Ctrl-C must not leave a retained 'online' with no robot behind it.
        await asyncio.shield(_shutdown(publisher, server, db_labels))
    return RunResult(run_id=run_id, start_time=start, ticks=ticks, skipped_ticks=skipped,
                     late_ticks=late, max_lag_s=max_lag, opcua_values=opc_values,
                     mqtt=publisher.stats() if publisher else None,
                     ticking_s=0.0 if t_first is None else loop.time() - t_first)


async def _record_labels(url: str, labels: list[Label], run_id: str) -> None:
    try:
        n = await asyncio.to_thread(_record_labels_in_db, url, labels)
        log.info("ground truth: %d fault labels recorded in the database (run %s)", n, run_id)
    except DatabaseError as exc:
        # The telemetry matters more than its labels: keep simulating, say so loudly.
        log.error("ground truth NOT recorded in the database (run %s): %s", run_id,
                  first_line(exc))


async def _shutdown(publisher: MqttPublisher | None, server: FleetServer | None,
                    db_labels: asyncio.Task[None] | None) -> None:
    if publisher is not None:
        try:
            await publisher.stop()
        except Exception:  # noqa: BLE001 - the server must still stop
            log.exception("MQTT shutdown failed")
    if server is not None:
        await server.stop()
    if db_labels is not None:
        await db_labels
